/* Token buckets per client address in a fixed open-addressed table (ratelimit.h). */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ratelimit.h"
#include "yiwang/error.h"
#include "yw_limits.h"

#define ADDR_MAX 64 /* INET6_ADDRSTRLEN and a zone id fit */

struct slot {
	char addr[ADDR_MAX]; /* "" = free */
	double tokens;
	int64_t last; /* ns of the last refill */
};

struct yw_ratelimit {
	pthread_mutex_t mu;
	double rate, burst; /* tokens per ns is rate / 1e9 */
	struct slot slots[YW_HTTP_RATE_SLOTS];
};

int yw_ratelimit_new(double rate, double burst, struct yw_ratelimit **out)
{
	if (!(rate > 0) || !(burst >= 1) || !out)
		return YW_EINVAL;
	struct yw_ratelimit *rl = calloc(1, sizeof(*rl));
	if (!rl)
		return YW_ENOMEM;
	pthread_mutex_init(&rl->mu, NULL);
	rl->rate = rate;
	rl->burst = burst;
	*out = rl;
	return 0;
}

void yw_ratelimit_free(struct yw_ratelimit *rl)
{
	if (!rl)
		return;
	pthread_mutex_destroy(&rl->mu);
	free(rl);
}

/* FNV-1a: addresses are short; the table only needs them spread. */
static size_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (size_t)h;
}

/* The slot of addr: its own, else a free one, else the least recently seen in the probe. */
static struct slot *find(struct yw_ratelimit *rl, const char *addr, int *fresh)
{
	size_t h = hash(addr);
	struct slot *victim = NULL;
	for (size_t i = 0; i < YW_HTTP_RATE_PROBE; i++) {
		struct slot *s = &rl->slots[(h + i) % YW_HTTP_RATE_SLOTS];
		if (!strcmp(s->addr, addr)) {
			*fresh = 0;
			return s;
		}
		if (!s->addr[0]) {
			if (!victim || victim->addr[0])
				victim = s;
		} else if (!victim || (victim->addr[0] && s->last < victim->last)) {
			victim = s;
		}
	}
	*fresh = 1;
	return victim;
}

int yw_ratelimit_take(struct yw_ratelimit *rl, const char *addr, int64_t now_ns)
{
	char key[ADDR_MAX];
	size_t n = strnlen(addr, sizeof(key) - 1);
	memcpy(key, addr, n);
	key[n] = 0;
	int wait = 0, fresh;
	pthread_mutex_lock(&rl->mu);
	struct slot *s = find(rl, key, &fresh);
	if (fresh) {
		memcpy(s->addr, key, n + 1);
		s->tokens = rl->burst;
		s->last = now_ns;
	} else if (now_ns > s->last) {
		s->tokens =
		    fmin(rl->burst, s->tokens + (double)(now_ns - s->last) * rl->rate / 1e9);
		s->last = now_ns;
	}
	if (s->tokens >= 1) {
		s->tokens -= 1;
	} else {
		double secs = ceil((1 - s->tokens) / rl->rate);
		wait = secs < 1 ? 1 : secs > 3600 ? 3600 : (int)secs;
	}
	pthread_mutex_unlock(&rl->mu);
	return wait;
}
