@echo off
rem kokochat-pairing launcher for Windows: runs kokochat-pairing-windows-x64.exe
rem beside this file with the same arguments; exit 71 when there is no build
rem for this machine. ARM64 Windows runs the x64 build under emulation.
setlocal
set "KOKOCHAT_EXE=%~dp0kokochat-pairing-windows-x64.exe"
if /i "%PROCESSOR_ARCHITECTURE%"=="x86" if not defined PROCESSOR_ARCHITEW6432 goto unsupported
if not exist "%KOKOCHAT_EXE%" goto missing
"%KOKOCHAT_EXE%" %*
exit /b %ERRORLEVEL%
:unsupported
echo kokochat-pairing: no build for 32-bit Windows; supported: Windows x64 and ARM64 1>&2
exit /b 71
:missing
echo kokochat-pairing: kokochat-pairing-windows-x64.exe is missing beside this launcher; reinstall the skill bundle 1>&2
exit /b 71
