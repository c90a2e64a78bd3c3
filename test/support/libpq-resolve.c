/*
 * Test helper for test/connection/conninfo-libpq-resolve.test.ts: hands connection strings
 * to libpq's PQconnectdb, so that pqnotify's verdict on every setting (accept or refuse) can
 * be compared with libpq's. The strings point at a port where nothing listens: a string whose
 * settings libpq accepts ends in a connection attempt ("Connection refused"), one it refuses
 * ends before that, with libpq's reason.
 *
 * Input (stdin): connection strings, each terminated by a NUL byte.
 * Output (stdout): one line per input string: OK or BAD, a tab, the hex-encoded error
 * message (empty for OK). With the argument --version, prints PQlibVersion() instead.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>

static void put_hex(const char *s)
{
	for (const unsigned char *p = (const unsigned char *) s; *p; p++)
		printf("%02x", *p);
}

int main(int argc, char **argv)
{
	size_t cap = 1024, len = 0;
	char *buf;
	int c;

	if (argc > 1 && strcmp(argv[1], "--version") == 0)
	{
		printf("%d\n", PQlibVersion());
		return 0;
	}

	buf = malloc(cap);
	if (buf == NULL)
		return 1;
	while ((c = getchar()) != EOF)
	{
		if (len + 1 >= cap)
		{
			cap *= 2;
			buf = realloc(buf, cap);
			if (buf == NULL)
				return 1;
		}
		buf[len++] = (char) c;
		if (c != '\0')
			continue;

		PGconn *conn = PQconnectdb(buf);

		if (conn != NULL && PQstatus(conn) == CONNECTION_OK)
			printf("OK\t");
		else
		{
			printf("BAD\t");
			put_hex(conn != NULL ? PQerrorMessage(conn) : "out of memory");
		}
		putchar('\n');
		fflush(stdout);
		PQfinish(conn);
		len = 0;
	}
	free(buf);
	return 0;
}
