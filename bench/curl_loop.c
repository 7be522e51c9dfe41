/*
 * curl_loop.c: the raw libcurl ceiling for `make bench`.
 *
 * One easy handle, options set once, curl_easy_perform in a loop over one
 * keep-alive connection: POST <base>/api/service/getAvailableOperators with
 * {"orgCode":"DEMO"}, the simulator's DEMO key, for SECONDS seconds.  Every
 * answer must be HTTP 200; the body is collected into a buffer (as the
 * extension does) and then dropped.  Prints one line: calls per second.
 * PATH and BODY, when given, replace the endpoint and the JSON body (e.g.
 * /api/service/pushAsyncCall and its {"b64Data": ...} for bench/start.sh).
 *
 *   curl_loop BASE_URL SECONDS [PATH BODY]
 *
 * Built by bench/run.sh: gcc -O2 -o DIR/curl_loop bench/curl_loop.c -lcurl
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char body[65536];
static size_t body_len;

static size_t
collect(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	size_t		n = size * nmemb;

	(void) userdata;
	if (body_len + n >= sizeof(body))
		return 0;				/* far larger than the answer: fail */
	memcpy(body + body_len, ptr, n);
	body_len += n;
	return n;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	const char *path = "/api/service/getAvailableOperators";
	const char *payload = "{\"orgCode\":\"DEMO\"}";
	char		url[1024];
	struct curl_slist *headers = NULL;
	CURL	   *easy;
	double		seconds,
				start,
				elapsed;
	long		calls = 0;

	if ((argc != 3 && argc != 5) || (seconds = atof(argv[2])) <= 0)
	{
		fprintf(stderr, "usage: curl_loop BASE_URL SECONDS [PATH BODY]\n");
		return 2;
	}
	if (argc == 5)
	{
		path = argv[3];
		payload = argv[4];
	}
	snprintf(url, sizeof(url), "%s%s", argv[1], path);

	curl_global_init(CURL_GLOBAL_ALL);
	easy = curl_easy_init();
	if (easy == NULL)
	{
		fprintf(stderr, "curl_loop: no easy handle\n");
		return 1;
	}
	headers = curl_slist_append(headers, "Accept: application/json");
	headers = curl_slist_append(headers, "Content-Type: application/json");
	headers = curl_slist_append(headers, "apikey: demo-key-5f2b9c");
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDS, payload);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, (long) strlen(payload));
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, collect);

	start = now();
	do
	{
		CURLcode	rc;
		long		status = 0;

		body_len = 0;
		rc = curl_easy_perform(easy);
		if (rc == CURLE_OK)
			curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
		if (rc != CURLE_OK || status != 200 || body_len == 0)
		{
			fprintf(stderr, "curl_loop: call %ld failed: %s, HTTP %ld\n",
					calls + 1, curl_easy_strerror(rc), status);
			return 1;
		}
		calls++;
	} while ((elapsed = now() - start) < seconds);

	printf("%.1f\n", calls / elapsed);
	curl_slist_free_all(headers);
	curl_easy_cleanup(easy);
	curl_global_cleanup();
	return 0;
}
