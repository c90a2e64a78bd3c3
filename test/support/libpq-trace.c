/*
 * Test helper for test/connection/trace.test.ts: runs a fixed sequence of commands with
 * libpq while PQtrace writes libpq's protocol trace (without timestamps) to a file, so that
 * pqnotify's trace of the same sequence can be compared with the real thing.
 *
 * Usage: libpq-trace CONNINFO TRACEFILE
 *
 * Tracing starts after the connection is made. The sequence (keep it in step with the
 * test): a query with a NULL, a tab and a non-ASCII character; a statement with a syntax
 * error; PQexecParams with one text parameter; LISTEN x; pg_notify('x', 'payload') and
 * reading that notification; PQfinish. Exits 0 when everything went as expected,
 * otherwise prints what went wrong on stderr and exits 1.
 */
#include <stdio.h>
#include <string.h>
#include <libpq-fe.h>

static int expect(PGconn *conn, PGresult *res, ExecStatusType wanted, const char *what)
{
	ExecStatusType got = PQresultStatus(res);

	PQclear(res);
	if (got == wanted)
		return 0;
	fprintf(stderr, "%s: %s instead of %s: %s", what, PQresStatus(got), PQresStatus(wanted),
			PQerrorMessage(conn));
	return 1;
}

int main(int argc, char **argv)
{
	const char *values[1] = {"42"};
	PGconn *conn;
	PGnotify *notify;
	FILE *trace;
	int failed = 0;

	if (argc != 3)
	{
		fprintf(stderr, "usage: %s CONNINFO TRACEFILE\n", argv[0]);
		return 1;
	}
	conn = PQconnectdb(argv[1]);
	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "connection failed: %s", PQerrorMessage(conn));
		PQfinish(conn);
		return 1;
	}
	trace = fopen(argv[2], "w");
	if (trace == NULL)
	{
		perror(argv[2]);
		PQfinish(conn);
		return 1;
	}
	PQtrace(conn, trace);
	PQsetTraceFlags(conn, PQTRACE_SUPPRESS_TIMESTAMPS);

	failed |= expect(conn, PQexec(conn, "SELECT 1 AS a, NULL::text AS b, E'tab\\t\u00e9' AS c"),
					 PGRES_TUPLES_OK, "select");
	failed |= expect(conn, PQexec(conn, "SELEC 1"), PGRES_FATAL_ERROR, "syntax error");
	failed |= expect(conn, PQexecParams(conn, "SELECT $1::int", 1, NULL, values, NULL, NULL, 0),
					 PGRES_TUPLES_OK, "execParams");
	failed |= expect(conn, PQexec(conn, "LISTEN x"), PGRES_COMMAND_OK, "listen");
	failed |= expect(conn, PQexec(conn, "SELECT pg_notify('x', 'payload')"), PGRES_TUPLES_OK,
					 "notify");
	notify = PQnotifies(conn);
	if (notify == NULL || strcmp(notify->relname, "x") != 0 || strcmp(notify->extra, "payload") != 0)
	{
		fprintf(stderr, "the notification did not arrive\n");
		failed = 1;
	}
	PQfreemem(notify);

	PQfinish(conn);
	fclose(trace);
	return failed;
}
