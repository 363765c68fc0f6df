/*
 * bcryptprimitives.dll for wine 8, which lacks it. Bun's Windows runtime
 * imports ProcessPrng from it (Windows 10+ has it); this stub fills the buffer
 * from advapi32's RtlGenRandom (SystemFunction036), which wine has.
 * Test use only: placed beside the .exe the wine suite runs, never shipped.
 * Build: x86_64-w64-mingw32-gcc -shared -O2 -s -o bcryptprimitives.dll processprng-stub.c -ladvapi32
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
  while (length > 0) {
    ULONG chunk = length > 0x40000000 ? 0x40000000 : (ULONG)length;
    if (!SystemFunction036(data, chunk)) return FALSE;
    data += chunk;
    length -= chunk;
  }
  return TRUE;
}
