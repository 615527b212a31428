// SPDX-License-Identifier: GPL-2.0
/*
 * Linked into upstream's test_cpu (unchanged): stdout line-buffered, as on
 * a terminal.  In the guest its output goes to a pipe, fully buffered, and
 * the children test_cpu forks (cg_run) exit() with the parent's unflushed
 * "ok N ..." lines in their copy of the buffer: each would print twice.
 */
#include <stdio.h>

__attribute__((constructor)) static void peer_linebuf(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
}
