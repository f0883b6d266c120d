#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "yiwang/error.h"
#include "yiwang/loop.h"

struct watch {
	int fd;
	unsigned events;
	yw_io_fn cb;
	void *ud;
	bool used;
};

struct timer {
	int64_t due;
	uint64_t id;
	yw_timer_fn cb;
	void *ud;
};

struct yw_loop {
	int ep, wakefd;
	struct watch *w; /* indexed by fd */
	size_t nw;
	struct timer *heap;
	size_t nheap, capheap;
	uint64_t next_id;
	yw_timer_fn wake_cb;
	void *wake_ud;
	volatile sig_atomic_t stop;
};

int64_t yw_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct timespec yw_mono_deadline(int64_t ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	int64_t ns = (int64_t)ts.tv_nsec + ms % 1000 * 1000000;
	ts.tv_sec += (time_t)(ms / 1000 + ns / 1000000000);
	ts.tv_nsec = (long)(ns % 1000000000);
	return ts;
}

int64_t yw_wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int yw_loop_new(struct yw_loop **out)
{
	struct yw_loop *l = calloc(1, sizeof(*l));
	if (!l)
		return YW_ENOMEM;
	l->ep = epoll_create1(EPOLL_CLOEXEC);
	l->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (l->ep < 0 || l->wakefd < 0) {
		yw_loop_free(l);
		return YW_EIO;
	}
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = l->wakefd};
	if (epoll_ctl(l->ep, EPOLL_CTL_ADD, l->wakefd, &ev) != 0) {
		yw_loop_free(l);
		return YW_EIO;
	}
	*out = l;
	return 0;
}

void yw_loop_free(struct yw_loop *l)
{
	if (!l)
		return;
	if (l->ep >= 0)
		close(l->ep);
	if (l->wakefd >= 0)
		close(l->wakefd);
	free(l->w);
	free(l->heap);
	free(l);
}

int yw_loop_watch(struct yw_loop *l, int fd, unsigned events, yw_io_fn cb, void *ud)
{
	if (fd < 0)
		return YW_EINVAL;
	if ((size_t)fd >= l->nw) {
		size_t n = l->nw ? l->nw : 64;
		while (n <= (size_t)fd)
			n *= 2;
		struct watch *w = realloc(l->w, n * sizeof(*w));
		if (!w)
			return YW_ENOMEM;
		memset(w + l->nw, 0, (n - l->nw) * sizeof(*w));
		l->w = w;
		l->nw = n;
	}
	struct watch *w = &l->w[fd];
	struct epoll_event ev = {.data.fd = fd};
	if (events & YW_LOOP_READ)
		ev.events |= EPOLLIN;
	if (events & YW_LOOP_WRITE)
		ev.events |= EPOLLOUT;
	if (epoll_ctl(l->ep, w->used ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) != 0)
		return YW_EIO;
	*w = (struct watch){fd, events, cb, ud, true};
	return 0;
}

void yw_loop_unwatch(struct yw_loop *l, int fd)
{
	if (fd < 0 || (size_t)fd >= l->nw || !l->w[fd].used)
		return;
	epoll_ctl(l->ep, EPOLL_CTL_DEL, fd, NULL);
	memset(&l->w[fd], 0, sizeof(l->w[fd]));
}

static void heap_swap(struct timer *h, size_t a, size_t b)
{
	struct timer t = h[a];
	h[a] = h[b];
	h[b] = t;
}

static bool before(const struct timer *a, const struct timer *b)
{
	return a->due < b->due || (a->due == b->due && a->id < b->id);
}

static void heap_up(struct timer *h, size_t i)
{
	while (i > 0 && before(&h[i], &h[(i - 1) / 2])) {
		heap_swap(h, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void heap_down(struct timer *h, size_t n, size_t i)
{
	for (;;) {
		size_t m = i, a = 2 * i + 1, b = a + 1;
		if (a < n && before(&h[a], &h[m]))
			m = a;
		if (b < n && before(&h[b], &h[m]))
			m = b;
		if (m == i)
			return;
		heap_swap(h, i, m);
		i = m;
	}
}

uint64_t yw_loop_after(struct yw_loop *l, int64_t ms, yw_timer_fn cb, void *ud)
{
	if (l->nheap == l->capheap) {
		size_t cap = l->capheap ? l->capheap * 2 : 64;
		struct timer *h = realloc(l->heap, cap * sizeof(*h));
		if (!h)
			return 0;
		l->heap = h;
		l->capheap = cap;
	}
	uint64_t id = ++l->next_id;
	l->heap[l->nheap] = (struct timer){yw_mono_ms() + (ms > 0 ? ms : 0), id, cb, ud};
	heap_up(l->heap, l->nheap++);
	return id;
}

void yw_loop_cancel(struct yw_loop *l, uint64_t id)
{
	for (size_t i = 0; i < l->nheap; i++) {
		if (l->heap[i].id != id)
			continue;
		l->heap[i] = l->heap[--l->nheap];
		if (i < l->nheap) {
			heap_down(l->heap, l->nheap, i);
			heap_up(l->heap, i);
		}
		return;
	}
}

int yw_loop_on_wake(struct yw_loop *l, yw_timer_fn cb, void *ud)
{
	l->wake_cb = cb;
	l->wake_ud = ud;
	return 0;
}

void yw_loop_wake(struct yw_loop *l)
{
	uint64_t one = 1;
	ssize_t n = write(l->wakefd, &one, sizeof(one));
	(void)n; /* EAGAIN means a wake-up is already pending */
}

void yw_loop_stop(struct yw_loop *l)
{
	l->stop = 1;
	yw_loop_wake(l);
}

static void run_timers(struct yw_loop *l)
{
	int64_t now = yw_mono_ms();
	/* Only timers due now; ones added by callbacks wait for the next round. */
	size_t budget = l->nheap;
	while (budget-- && l->nheap && l->heap[0].due <= now && !l->stop) {
		struct timer t = l->heap[0];
		l->heap[0] = l->heap[--l->nheap];
		heap_down(l->heap, l->nheap, 0);
		t.cb(l, t.ud);
	}
}

int yw_loop_run(struct yw_loop *l)
{
	struct epoll_event evs[64];
	while (!l->stop) {
		int timeout = -1;
		if (l->nheap) {
			int64_t d = l->heap[0].due - yw_mono_ms();
			timeout = d < 0 ? 0 : (d > 60000 ? 60000 : (int)d);
		}
		int n = epoll_wait(l->ep, evs, 64, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return YW_EIO;
		}
		for (int i = 0; i < n && !l->stop; i++) {
			int fd = evs[i].data.fd;
			if (fd == l->wakefd) {
				uint64_t v;
				ssize_t r = read(l->wakefd, &v, sizeof(v));
				(void)r;
				if (l->wake_cb)
					l->wake_cb(l, l->wake_ud);
				continue;
			}
			if ((size_t)fd >= l->nw || !l->w[fd].used)
				continue;
			unsigned e = 0;
			if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				e |= YW_LOOP_READ;
			if (evs[i].events & (EPOLLOUT | EPOLLERR))
				e |= YW_LOOP_WRITE;
			struct watch w = l->w[fd];
			w.cb(l, fd, e, w.ud);
		}
		run_timers(l);
	}
	return 0;
}
