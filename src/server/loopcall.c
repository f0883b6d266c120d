/* Calls into the loop thread from other threads (the HTTP API's): the connections, responses.db
 * and the other loop-owned state are only touched there. A call is queued under the server's
 * done_mu, the loop is woken, and the caller waits on its own condition variable. */
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "server.h"
#include "yiwang/error.h"

struct yw_server_call {
	struct yw_server_call *next;
	yw_server_call_fn fn;
	void *ud;
	int state; /* under done_mu: 0 queued, 1 taken by the loop, 2 done */
	pthread_cond_t cv;
};

int yw_server_call(struct yw_server *s, yw_server_call_fn fn, void *ud, int64_t timeout_ms)
{
	pthread_mutex_t *mu = s->done_mu;
	struct yw_server_call c = {.fn = fn, .ud = ud};
	pthread_condattr_t attr;
	if (pthread_condattr_init(&attr))
		return YW_ENOMEM;
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	int prc = pthread_cond_init(&c.cv, &attr);
	pthread_condattr_destroy(&attr);
	if (prc)
		return YW_ENOMEM;
	struct timespec dl = yw_mono_deadline(timeout_ms);
	int rc = 0;
	pthread_mutex_lock(mu);
	c.next = s->call_head;
	s->call_head = &c;
	pthread_mutex_unlock(mu);
	yw_loop_wake(s->loop);
	pthread_mutex_lock(mu);
	while (c.state != 2) {
		if (c.state == 1) {
			/* Taken: fn runs now and is short; c lives on this stack until it is done.
			 */
			pthread_cond_wait(&c.cv, mu);
			continue;
		}
		if (pthread_cond_timedwait(&c.cv, mu, &dl) == ETIMEDOUT && c.state == 0) {
			/* Still queued (the loop is busy or stopping): withdrawn, never run. */
			for (struct yw_server_call **p = &s->call_head; *p; p = &(*p)->next)
				if (*p == &c) {
					*p = c.next;
					break;
				}
			rc = YW_EAGAIN;
			break;
		}
	}
	pthread_mutex_unlock(mu);
	pthread_cond_destroy(&c.cv);
	return rc;
}

void yw_server_calls_run(struct yw_server *s)
{
	pthread_mutex_t *mu = s->done_mu;
	pthread_mutex_lock(mu);
	struct yw_server_call *c = s->call_head, *fifo = NULL;
	s->call_head = NULL;
	/* Queued newest first: reversed so calls run in the order they were made. */
	while (c) {
		struct yw_server_call *next = c->next;
		c->state = 1;
		c->next = fifo;
		fifo = c;
		c = next;
	}
	pthread_mutex_unlock(mu);
	while (fifo) {
		fifo->fn(s, fifo->ud);
		pthread_mutex_lock(mu);
		struct yw_server_call *next = fifo->next; /* fifo is gone once its caller sees 2 */
		fifo->state = 2;
		pthread_cond_signal(&fifo->cv);
		pthread_mutex_unlock(mu);
		fifo = next;
	}
}
