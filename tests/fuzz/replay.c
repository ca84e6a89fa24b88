/*
 * replay: run a fuzz target over saved inputs without libFuzzer.
 *
 *	replay DIR|FILE...
 *
 * Feeds every regular file (directories: one level) to
 * LLVMFuzzerTestOneInput, so corpora and past crashes run as ordinary
 * tests, under ASan/UBSan when built with them.  Exits 1 if an argument
 * cannot be read; a failing input aborts like it would under libFuzzer.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
run_file(const char *path, size_t *count)
{
	FILE *f;
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, n;

	if ((f = fopen(path, "rb")) == NULL) {
		perror(path);
		return -1;
	}
	do {
		if (len == cap) {
			uint8_t *p;

			cap = cap ? cap * 2 : 4096;
			if ((p = realloc(buf, cap)) == NULL) {
				perror("realloc");
				exit(1);
			}
			buf = p;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	if (ferror(f)) {
		perror(path);
		fclose(f);
		free(buf);
		return -1;
	}
	fclose(f);
	/* An exact-size copy lets ASan see reads past the input. */
	{
		uint8_t *in = malloc(len ? len : 1);

		if (in == NULL) {
			perror("malloc");
			exit(1);
		}
		memcpy(in, buf, len);
		LLVMFuzzerTestOneInput(in, len);
		free(in);
	}
	free(buf);
	(*count)++;
	return 0;
}

static int
run_dir(const char *dir, size_t *count)
{
	struct dirent **ents;
	int n, rc = 0;

	/* Sorted: a failure reproduces in the same order. */
	if ((n = scandir(dir, &ents, NULL, alphasort)) == -1) {
		perror(dir);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		char path[4096];
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
		    run_file(path, count) == -1)
			rc = -1;
		free(ents[i]);
	}
	free(ents);
	return rc;
}

int
main(int argc, char **argv)
{
	size_t count = 0;
	int rc = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;

		if (stat(argv[i], &st) == -1) {
			perror(argv[i]);
			rc = 1;
		} else if (S_ISDIR(st.st_mode) ? run_dir(argv[i], &count) == -1 :
		    run_file(argv[i], &count) == -1)
			rc = 1;
	}
	printf("replay: %zu inputs\n", count);
	return rc;
}
