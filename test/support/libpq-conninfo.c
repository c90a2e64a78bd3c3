/*
 * Test helper for test/connection/conninfo-libpq.test.ts: parses connection strings with
 * libpq's PQconninfoParse and prints what libpq made of them, so pqnotify's parser can be
 * compared with the real thing.
 *
 * Input (stdin): connection strings, each terminated by a NUL byte.
 * Output (stdout): one line per input string, either
 *   OK<TAB>keyword=hexvalue<TAB>keyword=hexvalue...   (only the keywords that were set)
 *   ERR<TAB>hexmessage
 * Values and messages are hex-encoded so that any byte survives the trip.
 *
 * With the argument --keywords, prints instead every keyword this libpq knows, one per line.
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

	if (argc > 1 && strcmp(argv[1], "--keywords") == 0)
	{
		PQconninfoOption *defaults = PQconndefaults();

		if (defaults == NULL)
			return 1;
		for (PQconninfoOption *o = defaults; o->keyword != NULL; o++)
			printf("%s\n", o->keyword);
		PQconninfoFree(defaults);
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

		char *err = NULL;
		PQconninfoOption *opts = PQconninfoParse(buf, &err);

		if (opts == NULL)
		{
			printf("ERR\t");
			put_hex(err != NULL ? err : "out of memory");
			PQfreemem(err);
		}
		else
		{
			printf("OK");
			for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
			{
				if (o->val == NULL)
					continue;
				printf("\t%s=", o->keyword);
				put_hex(o->val);
			}
			PQconninfoFree(opts);
		}
		putchar('\n');
		len = 0;
	}
	free(buf);
	return 0;
}
