/*
 * libpq side of the notification benchmark (bench/notify.ts compiles and starts it). It
 * speaks the same line protocol as bench/notify-listener.ts: one JSON object per line on
 * stdout.
 *
 *   libpq-receiver burst CONNINFO CHANNEL N BURSTS
 *     LISTENs, prints {"event":"ready",...}, then receives BURSTS bursts of N notifications
 *     with the select() loop of the libpq documentation (PQsocket, select, PQconsumeInput,
 *     PQnotifies) and prints {"event":"burst",...} after each: the count, the seconds from
 *     the first notification to the last, the CPU time the process used from the start of
 *     the wait to the last notification, and the sequence numbers (the payload's last six
 *     characters, in hex) of the first and the last. Ends with {"event":"end",...}.
 *
 *   libpq-receiver latency CONNINFO CHANNEL WARMUP SAMPLES GAP_US
 *     Two connections: the listener LISTENs, the notifier sends
 *     SELECT pg_notify($1, $2) with PQsendQueryParams; the time from sending to the
 *     notification coming out of PQnotifies on the listener (select() on the listener's
 *     socket only) is one sample. The notifier's result is read after each sample. After
 *     WARMUP unrecorded samples, SAMPLES back to back ("hot") and SAMPLES with a pause of
 *     GAP_US microseconds before each ("paced"); prints
 *     {"event":"latency","hotUs":[...],"pacedUs":[...]}.
 *
 *   libpq-receiver version
 *     Prints PQlibVersion().
 *
 * Memory: the resident set after LISTEN is read from /proc/self/status (VmRSS); then the
 * peak is reset (writing 5 to /proc/self/clear_refs) so that the VmHWM read at the end is
 * the peak since LISTEN. Exit status 0, or 1 after printing a message on stderr.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>
#include <libpq-fe.h>

/* Seconds without a notification, once a burst has begun, before it counts as stalled. */
#define STALL_SECONDS 10
/* Seconds to wait for the first notification of a burst (the sender generates it first). */
#define FIRST_WAIT_SECONDS 600

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void die(const char *what, PGconn *conn)
{
	fprintf(stderr, "libpq-receiver: %s: %s\n", what, conn ? PQerrorMessage(conn) : strerror(errno));
	exit(1);
}

/* A "VmRSS:" or "VmHWM:" line of /proc/self/status, in KiB; -1 when unreadable. */
static long status_kib(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long value = -1;
	size_t len = strlen(field);

	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, field, len) == 0)
		{
			value = strtol(line + len, NULL, 10);
			break;
		}
	fclose(f);
	return value;
}

/* Resets the peak resident set size (VmHWM) to the current one; 1 on success. */
static int reset_peak(void)
{
	FILE *f = fopen("/proc/self/clear_refs", "w");
	int ok;

	if (!f)
		return 0;
	ok = fputs("5", f) >= 0;
	return fclose(f) == 0 && ok;
}

/* User plus system CPU time of the process so far, in seconds. */
static double cpu_seconds(void)
{
	struct rusage usage;

	if (getrusage(RUSAGE_SELF, &usage) != 0)
		die("getrusage", NULL);
	return (double) usage.ru_utime.tv_sec + (double) usage.ru_utime.tv_usec / 1e6 +
		(double) usage.ru_stime.tv_sec + (double) usage.ru_stime.tv_usec / 1e6;
}

static long lifetime_max_rss_kib(void)
{
	struct rusage usage;

	return getrusage(RUSAGE_SELF, &usage) == 0 ? usage.ru_maxrss : -1;
}

static PGconn *open_listener(const char *conninfo, const char *channel)
{
	PGconn *conn = PQconnectdb(conninfo);
	PGresult *res;
	char *quoted;
	char sql[256];

	if (PQstatus(conn) != CONNECTION_OK)
		die("connect", conn);
	quoted = PQescapeIdentifier(conn, channel, strlen(channel));
	if (!quoted)
		die("escape", conn);
	snprintf(sql, sizeof sql, "LISTEN %s", quoted);
	PQfreemem(quoted);
	res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		die("LISTEN", conn);
	PQclear(res);
	return conn;
}

/* Waits until the socket is readable; 0 when `seconds` pass first. */
static int wait_readable(PGconn *conn, int seconds)
{
	int sock = PQsocket(conn);
	fd_set input_mask;
	struct timeval timeout;
	int rc;

	if (sock < 0)
		die("PQsocket", conn);
	for (;;)
	{
		FD_ZERO(&input_mask);
		FD_SET(sock, &input_mask);
		timeout.tv_sec = seconds;
		timeout.tv_usec = 0;
		rc = select(sock + 1, &input_mask, NULL, NULL, &timeout);
		if (rc > 0)
			return 1;
		if (rc == 0)
			return 0;
		if (errno != EINTR)
			die("select", NULL);
	}
}

/* The sequence number a burst payload ends with: its last six characters, in hex. */
static long sequence_of(const char *payload)
{
	size_t len = strlen(payload);

	return len < 6 ? -1 : strtol(payload + len - 6, NULL, 16);
}

static int run_bursts(const char *conninfo, const char *channel, long n, int bursts)
{
	PGconn *conn = open_listener(conninfo, channel);
	int peak_reset;

	printf("{\"event\":\"ready\",\"idleRssKiB\":%ld}\n", status_kib("VmRSS:"));
	fflush(stdout);
	peak_reset = reset_peak();
	for (int b = 0; b < bursts; b++)
	{
		long count = 0, first_seq = -1, last_seq = -1;
		double first = 0, last = 0, cpu_start = cpu_seconds(), cpu = 0;
		int stalled = 0;

		while (count < n)
		{
			PGnotify *notify;

			if (!wait_readable(conn, count == 0 ? FIRST_WAIT_SECONDS : STALL_SECONDS))
			{
				stalled = 1;
				break;
			}
			if (!PQconsumeInput(conn))
				die("PQconsumeInput", conn);
			while ((notify = PQnotifies(conn)) != NULL)
			{
				if (count == 0)
				{
					first = now_seconds();
					first_seq = sequence_of(notify->extra);
				}
				if (++count == n)
				{
					last = now_seconds();
					cpu = cpu_seconds() - cpu_start;
					last_seq = sequence_of(notify->extra);
					PQfreemem(notify);
					break;
				}
				PQfreemem(notify);
			}
		}
		if (stalled)
			printf("{\"event\":\"burst\",\"index\":%d,\"count\":%ld,\"seconds\":null,"
				   "\"cpuSeconds\":null,\"firstSeq\":%ld,\"lastSeq\":null,\"stalled\":true}\n",
				   b, count, first_seq);
		else
			printf("{\"event\":\"burst\",\"index\":%d,\"count\":%ld,\"seconds\":%.9f,"
				   "\"cpuSeconds\":%.6f,\"firstSeq\":%ld,\"lastSeq\":%ld,\"stalled\":false}\n",
				   b, count, last - first, cpu, first_seq, last_seq);
		fflush(stdout);
		if (stalled)
			break;
	}
	printf("{\"event\":\"end\",\"peakRssKiB\":%ld,\"peakSinceListen\":%s,\"maxRssKiB\":%ld}\n",
		   peak_reset ? status_kib("VmHWM:") : lifetime_max_rss_kib(),
		   peak_reset ? "true" : "false", lifetime_max_rss_kib());
	fflush(stdout);
	PQfinish(conn);
	return 0;
}

/* One sample: microseconds from sending `payload` on the notifier to its receipt. */
static double sample_latency(PGconn *listener, PGconn *notifier, const char *channel, int i)
{
	char payload[32];
	const char *values[2] = {channel, payload};
	PGnotify *notify = NULL;
	PGresult *res;
	double start, received;

	snprintf(payload, sizeof payload, "%d", i);
	start = now_seconds();
	if (!PQsendQueryParams(notifier, "SELECT pg_notify($1, $2)", 2, NULL, values, NULL, NULL, 0))
		die("PQsendQueryParams", notifier);
	while (notify == NULL)
	{
		if (!wait_readable(listener, STALL_SECONDS))
		{
			fprintf(stderr, "libpq-receiver: notification %d never came\n", i);
			exit(1);
		}
		if (!PQconsumeInput(listener))
			die("PQconsumeInput", listener);
		notify = PQnotifies(listener);
	}
	received = now_seconds();
	if (strcmp(notify->extra, payload) != 0)
	{
		fprintf(stderr, "libpq-receiver: expected payload %s, got %s\n", payload, notify->extra);
		exit(1);
	}
	PQfreemem(notify);
	while ((res = PQgetResult(notifier)) != NULL)
	{
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			die("pg_notify", notifier);
		PQclear(res);
	}
	return (received - start) * 1e6;
}

static void print_samples(const char *name, const double *taken, int samples)
{
	printf("\"%s\":[", name);
	for (int i = 0; i < samples; i++)
		printf(i == 0 ? "%.3f" : ",%.3f", taken[i]);
	printf("]");
}

static int run_latency(const char *conninfo, const char *channel, int warmup, int samples,
					   int gap_us)
{
	PGconn *listener = open_listener(conninfo, channel);
	PGconn *notifier = PQconnectdb(conninfo);
	double *hot = calloc((size_t) samples, sizeof(double));
	double *paced = calloc((size_t) samples, sizeof(double));
	int i = 0;

	if (PQstatus(notifier) != CONNECTION_OK)
		die("connect", notifier);
	if (!hot || !paced)
		die("calloc", NULL);
	printf("{\"event\":\"ready\",\"idleRssKiB\":%ld}\n", status_kib("VmRSS:"));
	fflush(stdout);
	for (int k = 0; k < warmup; k++)
		sample_latency(listener, notifier, channel, i++);
	for (int k = 0; k < samples; k++)
		hot[k] = sample_latency(listener, notifier, channel, i++);
	for (int k = 0; k < samples; k++)
	{
		usleep((useconds_t) gap_us);
		paced[k] = sample_latency(listener, notifier, channel, i++);
	}
	printf("{\"event\":\"latency\",");
	print_samples("hotUs", hot, samples);
	printf(",");
	print_samples("pacedUs", paced, samples);
	printf("}\n");
	printf("{\"event\":\"end\",\"peakRssKiB\":%ld,\"peakSinceListen\":false,\"maxRssKiB\":%ld}\n",
		   lifetime_max_rss_kib(), lifetime_max_rss_kib());
	fflush(stdout);
	free(hot);
	free(paced);
	PQfinish(notifier);
	PQfinish(listener);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "version") == 0)
	{
		printf("%d\n", PQlibVersion());
		return 0;
	}
	if (argc == 6 && strcmp(argv[1], "burst") == 0)
		return run_bursts(argv[2], argv[3], atol(argv[4]), atoi(argv[5]));
	if (argc == 7 && strcmp(argv[1], "latency") == 0)
		return run_latency(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]), atoi(argv[6]));
	fprintf(stderr, "usage: libpq-receiver burst CONNINFO CHANNEL N BURSTS\n"
			"       libpq-receiver latency CONNINFO CHANNEL WARMUP SAMPLES GAP_US\n"
			"       libpq-receiver version\n");
	return 2;
}
