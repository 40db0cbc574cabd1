/* forkstress — fork while other threads hold the shim's process-local
 * locks: threads change directory between a real directory and a store
 * one (route.c cwd_lock), swap and use standard streams and cookie
 * streams (stdio.c std_lock, map_lock), and add spawn file actions
 * (spawn.c opens_lock), while the main thread forks N children. Each
 * child uses every one of those locks and exits 0 under an alarm: a lock
 * copied held into the child would hang it (SIGALRM, status != 0).
 *
 *   forkstress STOREDIR N        (run under the preload; prints "ok N") */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *D;
static volatile int stop;

static void *chdirs(void *arg)
{
	while (!stop) {
		if (chdir(D) || chdir("/tmp"))
			abort();
	}
	return NULL;
}

static void *streams(void *arg)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s/s%ld", D, (long)arg);
	while (!stop) {
		FILE *f = fopen(p, "w");
		if (!f)
			abort();
		fputs("x", f);
		fclose(f);
	}
	return NULL;
}

static void *actions(void *arg)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s/a", D);
	while (!stop) {
		posix_spawn_file_actions_t fa;
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_addopen(&fa, 1, p, O_WRONLY | O_CREAT, 0644);
		posix_spawn_file_actions_destroy(&fa);
	}
	return NULL;
}

/* In the child: every process-local lock once. */
static int child(void)
{
	alarm(5);
	char p[4096];
	struct stat st;
	snprintf(p, sizeof(p), "%s/child", D);
	stat("relative-name", &st); /* cwd_lock when the cwd is real */
	FILE *f = fopen(p, "w");    /* map_lock */
	if (!f)
		return 1;
	fclose(f);
	posix_spawn_file_actions_t fa; /* opens_lock */
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, p, O_WRONLY, 0);
	posix_spawn_file_actions_destroy(&fa);
	int fd = open(p, O_WRONLY);
	if (fd < 0 || dup2(fd, 1) < 0) /* std_lock: stdout swapped */
		return 1;
	printf("child\n");
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	D = argv[1];
	int n = atoi(argv[2]);
	pthread_t t[4];
	pthread_create(&t[0], NULL, chdirs, NULL);
	pthread_create(&t[1], NULL, streams, (void *)1L);
	pthread_create(&t[2], NULL, streams, (void *)2L);
	pthread_create(&t[3], NULL, actions, NULL);
	int ok = 0;
	for (int i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid == 0)
			_exit(child());
		int status;
		waitpid(pid, &status, 0);
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			ok++;
		else
			fprintf(stderr, "child %d: status %#x\n", i, status);
	}
	stop = 1;
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	printf("ok %d\n", ok);
	return ok == n ? 0 : 1;
}
