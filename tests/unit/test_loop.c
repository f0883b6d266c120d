/* The event loop: fd readiness, timer order and cancellation, cross-thread wake-ups. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <unistd.h>

#include "yiwang/loop.h"

struct ctx {
	int order[8];
	int n;
	int reads;
	int wakes;
	struct yw_loop *l;
};

static void t1(struct yw_loop *l, void *ud)
{
	struct ctx *c = ud;
	c->order[c->n++] = 1;
}

static void t2(struct yw_loop *l, void *ud)
{
	struct ctx *c = ud;
	c->order[c->n++] = 2;
}

static void t3_stop(struct yw_loop *l, void *ud)
{
	struct ctx *c = ud;
	c->order[c->n++] = 3;
	yw_loop_stop(l);
}

static void on_read(struct yw_loop *l, int fd, unsigned ev, void *ud)
{
	struct ctx *c = ud;
	char buf[16];
	assert_true(ev & YW_LOOP_READ);
	c->reads += (int)read(fd, buf, sizeof(buf));
}

static void test_timers_and_io(void **state)
{
	struct yw_loop *l;
	struct ctx c = {0};
	assert_int_equal(yw_loop_new(&l), 0);
	int p[2];
	assert_int_equal(pipe(p), 0);
	assert_int_equal(yw_loop_watch(l, p[0], YW_LOOP_READ, on_read, &c), 0);
	assert_int_equal(write(p[1], "hello", 5), 5);
	yw_loop_after(l, 30, t2, &c);
	yw_loop_after(l, 10, t1, &c);
	uint64_t gone = yw_loop_after(l, 20, t2, &c);
	yw_loop_cancel(l, gone);
	yw_loop_after(l, 50, t3_stop, &c);
	int64_t t0 = yw_mono_ms();
	assert_int_equal(yw_loop_run(l), 0);
	assert_true(yw_mono_ms() - t0 >= 45);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.order[0], 1);
	assert_int_equal(c.order[1], 2);
	assert_int_equal(c.order[2], 3);
	assert_int_equal(c.reads, 5);
	yw_loop_unwatch(l, p[0]);
	close(p[0]);
	close(p[1]);
	yw_loop_free(l);
}

static void on_wake(struct yw_loop *l, void *ud)
{
	struct ctx *c = ud;
	if (++c->wakes >= 1)
		yw_loop_stop(l);
}

static void *waker(void *arg)
{
	usleep(20000);
	yw_loop_wake(arg);
	return NULL;
}

static void test_wake_from_thread(void **state)
{
	struct yw_loop *l;
	struct ctx c = {0};
	assert_int_equal(yw_loop_new(&l), 0);
	yw_loop_on_wake(l, on_wake, &c);
	yw_loop_after(l, 5000, t3_stop, &c); /* safety net: the test fails if reached */
	pthread_t th;
	pthread_create(&th, NULL, waker, l);
	assert_int_equal(yw_loop_run(l), 0);
	pthread_join(th, NULL);
	assert_int_equal(c.wakes, 1);
	assert_int_equal(c.n, 0);
	yw_loop_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timers_and_io),
		cmocka_unit_test(test_wake_from_thread),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
