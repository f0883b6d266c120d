/* What a store backend embeds: struct yw_store is the first member of the backend's own
 * struct, so the wrappers in store.c reach the ops table and the backend casts back. */
#ifndef YIWANG_STORE_INT_H
#define YIWANG_STORE_INT_H

#include "yiwang/store.h"

struct yw_store {
	const struct yw_store_ops *ops;
};

#endif
