// Wide-character ncurses: cchar_t, setcchar, mvadd_wch, extended colour pairs.
#ifndef NCURSES_WIDECHAR
#define NCURSES_WIDECHAR 1
#endif
#ifndef _XOPEN_SOURCE_EXTENDED
#define _XOPEN_SOURCE_EXTENDED 1
#endif
#include <locale.h>
#include <ncursesw/curses.h>

// Mouse masks are function-like macros Swift cannot see; these give their values from this ncurses' own header.
static inline mmask_t phosphor_mouse_mask(void) { return ALL_MOUSE_EVENTS | REPORT_MOUSE_POSITION; }
static inline mmask_t phosphor_button1_pressed(void) { return BUTTON1_PRESSED; }
static inline mmask_t phosphor_button1_released(void) { return BUTTON1_RELEASED | BUTTON1_CLICKED; }
static inline mmask_t phosphor_mouse_motion(void) { return REPORT_MOUSE_POSITION; }
static inline int phosphor_key_mouse(void) { return KEY_MOUSE; }

#include <unistd.h>
#include <sys/syscall.h>
// The calling thread's kernel id (for per-thread nice values).
static inline int phosphor_thread_id(void) { return (int)syscall(SYS_gettid); }
