/* shim/stdio.c — standard streams over store files (placeholder until the
 * stdio family lands). */
#include "shim.h"

void ms_stdio_fd_changed(int fd)
{
	(void)fd;
}
