// SPDX-License-Identifier: GPL-2.0
/*
 * qmp: send QMP commands to a QEMU monitor socket and print the replies.
 *
 *   qmp SOCKET COMMAND...     e.g. qmp /tmp/qmp.sock query-status quit
 *
 * Negotiates capabilities, then sends each COMMAND as {"execute": COMMAND},
 * or as it is if it starts with '{' (a command with arguments), and prints
 * its reply line (events are skipped).  Exits non-zero if a
 * reply is an error or the socket closes early; gives up after 30 s.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static char buf[65536];
static size_t have;

/* Next line from the socket, NULL at EOF. */
static char *next_line(int fd)
{
	static size_t consumed;
	char *nl;
	ssize_t n;

	memmove(buf, buf + consumed, have - consumed);
	have -= consumed;
	consumed = 0;
	while (!(nl = memchr(buf, '\n', have))) {
		if (have == sizeof(buf) - 1)
			return NULL;
		n = read(fd, buf + have, sizeof(buf) - 1 - have);
		if (n <= 0)
			return NULL;
		have += n;
	}
	*nl = '\0';
	consumed = nl + 1 - buf;
	return buf;
}

/* Send one command and return its reply, skipping asynchronous events. */
static char *execute(int fd, const char *cmd)
{
	char req[1024];
	char *line;
	int len = snprintf(req, sizeof(req),
			   cmd[0] == '{' ? "%s\n" : "{\"execute\": \"%s\"}\n", cmd);

	if (len >= (int)sizeof(req) || write(fd, req, len) != len)
		return NULL;
	while ((line = next_line(fd)) && strstr(line, "\"event\""))
		;
	return line;
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char *reply;
	int fd, i;

	if (argc < 3) {
		fprintf(stderr, "usage: qmp SOCKET COMMAND...\n");
		return 2;
	}
	alarm(30);	/* a QEMU that stops answering must not hang the test */
	strncpy(sa.sun_path, argv[1], sizeof(sa.sun_path) - 1);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		perror(argv[1]);
		return 1;
	}
	if (!next_line(fd) || !(reply = execute(fd, "qmp_capabilities")) ||
	    !strstr(reply, "\"return\"")) {
		fprintf(stderr, "qmp: no QMP greeting or capabilities reply\n");
		return 1;
	}
	for (i = 2; i < argc; i++) {
		reply = execute(fd, argv[i]);
		if (!reply) {
			/* "quit" may close the socket before replying. */
			if (!strcmp(argv[i], "quit"))
				break;
			fprintf(stderr, "qmp: no reply to %s\n", argv[i]);
			return 1;
		}
		printf("%s: %s\n", argv[i], reply);
		if (strstr(reply, "\"error\""))
			return 1;
	}
	close(fd);
	return 0;
}
