/* shim/shim.h — state shared by the files of the interposition layer. */
#ifndef MEMSHIM_SHIM_H
#define MEMSHIM_SHIM_H

#include "config.h"
#include "store.h"

#define MS_EXPORT __attribute__((visibility("default")))

struct ms_shim {
	struct ms_config cfg;
	ms_store *store; /* NULL until the constructor ran */
};

extern struct ms_shim ms_shim;

#endif
