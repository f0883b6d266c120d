/* A small event loop (epoll + a timer heap) shared by the server and the agent, in the spirit
 * of Redis's ae: file descriptor watchers and one-shot timers, single-threaded. Other threads
 * wake it through yw_loop_wake(). */
#ifndef YIWANG_LOOP_H
#define YIWANG_LOOP_H

#include <stdint.h>
#include <time.h>

enum { YW_LOOP_READ = 1, YW_LOOP_WRITE = 2 };

struct yw_loop;
typedef void (*yw_io_fn)(struct yw_loop *l, int fd, unsigned events, void *ud);
typedef void (*yw_timer_fn)(struct yw_loop *l, void *ud);

/* Returns 0 and *out, or YW_ENOMEM / YW_EIO. Caller frees with yw_loop_free(). */
int yw_loop_new(struct yw_loop **out);
void yw_loop_free(struct yw_loop *l);

/* Watches fd for events (a mask of YW_LOOP_*; 0 keeps it registered but idle). Calling it
 * again for the same fd changes the mask and callback. */
int yw_loop_watch(struct yw_loop *l, int fd, unsigned events, yw_io_fn cb, void *ud);
void yw_loop_unwatch(struct yw_loop *l, int fd);

/* Runs cb once after ms milliseconds. Returns an id (> 0) for yw_loop_cancel, or 0 when out
 * of memory. */
uint64_t yw_loop_after(struct yw_loop *l, int64_t ms, yw_timer_fn cb, void *ud);
void yw_loop_cancel(struct yw_loop *l, uint64_t id);

/* Called on the loop thread after yw_loop_wake() from any thread (coalesced). */
int yw_loop_on_wake(struct yw_loop *l, yw_timer_fn cb, void *ud);
void yw_loop_wake(struct yw_loop *l);

/* Runs until yw_loop_stop() (which may be called from a callback or a signal handler).
 * Returns 0 or YW_EIO. */
int yw_loop_run(struct yw_loop *l);
void yw_loop_stop(struct yw_loop *l);

/* Monotonic and wall clocks in milliseconds / nanoseconds. */
int64_t yw_mono_ms(void);
int64_t yw_wall_ns(void);
/* The CLOCK_MONOTONIC time ms from now, as pthread_cond_timedwait takes it (with a condition
 * variable whose clock is CLOCK_MONOTONIC). */
struct timespec yw_mono_deadline(int64_t ms);

#endif
