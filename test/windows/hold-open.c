/*
 * hold-open PATH MS: open PATH the way a plain Windows reader (or a virus
 * scanner) does — sharing read and write but not delete — print "held" and
 * keep it open for MS milliseconds. While it is open, renaming another file
 * over PATH fails with ERROR_ACCESS_DENIED / sharing violation.
 * Build: x86_64-w64-mingw32-gcc -O2 -s -o hold-open.exe hold-open.c
 */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  if (argc != 3) return 64;
  HANDLE h = CreateFileA(argv[1], GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
  if (h == INVALID_HANDLE_VALUE) {
    fprintf(stderr, "hold-open: cannot open %s (error %lu)\n", argv[1], GetLastError());
    return 74;
  }
  printf("held\n");
  fflush(stdout);
  Sleep((DWORD)atoi(argv[2]));
  CloseHandle(h);
  return 0;
}
