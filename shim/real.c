/* shim/real.c — resolving the table of real functions (see real.h); their
 * failing stand-ins are in real_fail.c. */
#include <dlfcn.h>
#include <link.h>
#include <string.h>

#include "shim.h"

MS_STARTUP struct ms_real ms_real;

/* ---- finding a real function: RTLD_NEXT without the loader's lock ----------
 *
 * dlsym(RTLD_NEXT) takes the loader's lock and costs about a microsecond a
 * name; at start-up that was a fifth of the shim's whole cost, and a name
 * first needed in a signal handler, or in the child of a raw clone, could
 * not be looked up safely at all. So a name is looked up here the way the
 * loader does it, in the objects loaded after this library, in their
 * order: GNU hash table, then the default version of the symbol. Nothing
 * is written, locked or allocated. Anything this does not handle (an
 * IFUNC, an object without a GNU hash table, this library not found in
 * the list) goes to dlsym. */

extern ElfW(Dyn) _DYNAMIC[] __attribute__((visibility("hidden")));

/* What a lookup needs of one loaded object. */
struct obj {
	ElfW(Addr) base;
	const uint32_t *gnu_hash;
	const ElfW(Sym) *symtab;
	const char *strtab;
	const ElfW(Half) *versym;
};

/* A dynamic-section address: the loader has made most of them absolute
 * already; one it has not is still relative to the base. */
static const void *dyn_ptr(ElfW(Addr) base, ElfW(Addr) v)
{
	return (const void *)(v < base ? v + base : v);
}

static int obj_of(const struct link_map *m, struct obj *o)
{
	o->base = m->l_addr;
	o->gnu_hash = NULL;
	o->symtab = NULL;
	o->strtab = NULL;
	o->versym = NULL;
	for (const ElfW(Dyn) *d = m->l_ld; d && d->d_tag != DT_NULL; d++) {
		if (d->d_tag == DT_GNU_HASH)
			o->gnu_hash = dyn_ptr(o->base, d->d_un.d_ptr);
		else if (d->d_tag == DT_SYMTAB)
			o->symtab = dyn_ptr(o->base, d->d_un.d_ptr);
		else if (d->d_tag == DT_STRTAB)
			o->strtab = dyn_ptr(o->base, d->d_un.d_ptr);
		else if (d->d_tag == DT_VERSYM)
			o->versym = dyn_ptr(o->base, d->d_un.d_ptr);
	}
	return o->gnu_hash && o->symtab && o->strtab ? 0 : -1;
}

/* The default-version definition of name in o (h its GNU hash): 1 found
 * (*addr), 0 not there, -1 there but of a kind left to dlsym. */
static int obj_lookup(const struct obj *o, const char *name, uint32_t h, void **addr)
{
	const uint32_t *gh = o->gnu_hash;
	uint32_t nbuckets = gh[0], symoffset = gh[1], bloom_size = gh[2], shift = gh[3];
	if (!nbuckets || !bloom_size)
		return 0;
	const ElfW(Addr) *bloom = (const ElfW(Addr) *)(gh + 4);
	const uint32_t *buckets = (const uint32_t *)(bloom + bloom_size);
	const uint32_t *chain = buckets + nbuckets;
	const unsigned bits = sizeof(ElfW(Addr)) * 8;
	ElfW(Addr) word = bloom[(h / bits) % bloom_size];
	ElfW(Addr) mask = ((ElfW(Addr))1 << (h % bits)) | ((ElfW(Addr))1 << ((h >> shift) % bits));
	if ((word & mask) != mask)
		return 0;
	uint32_t i = buckets[h % nbuckets];
	if (i < symoffset)
		return 0;
	for (;; i++) {
		uint32_t h2 = chain[i - symoffset];
		const ElfW(Sym) *sym = &o->symtab[i];
		if ((h | 1) == (h2 | 1) && strcmp(name, o->strtab + sym->st_name) == 0 &&
		    sym->st_shndx != SHN_UNDEF && !(o->versym && (o->versym[i] & 0x8000))) {
			int type = ELF64_ST_TYPE(sym->st_info), bind = ELF64_ST_BIND(sym->st_info);
			if (bind != STB_GLOBAL && bind != STB_WEAK && bind != STB_GNU_UNIQUE)
				return -1;
			if (type != STT_FUNC && type != STT_OBJECT && type != STT_NOTYPE)
				return -1; /* an IFUNC's resolver is the loader's to call */
			*addr = (void *)(o->base + sym->st_value);
			return 1;
		}
		if (h2 & 1)
			return 0;
	}
}

const struct link_map *ms_self_map(void)
{
	MS_STARTUP static const struct link_map *self; /* racing threads store the same */
	const struct link_map *m = __atomic_load_n(&self, __ATOMIC_RELAXED);
	if (m)
		return m;
	for (m = _r_debug.r_map; m && m->l_ld != _DYNAMIC; m = m->l_next)
		;
	__atomic_store_n(&self, m, __ATOMIC_RELAXED);
	return m;
}

/* The first definition of name after this library, as dlsym(RTLD_NEXT)
 * finds it, or NULL when that is dlsym's to say. */
static __attribute__((noinline)) void *next_lookup(const char *name)
{
	uint32_t h = 5381;
	for (const unsigned char *c = (const unsigned char *)name; *c; c++)
		h = h * 33 + *c;
	const struct link_map *m = ms_self_map();
	if (!m)
		return NULL;
	for (m = m->l_next; m; m = m->l_next) {
		struct obj o;
		void *addr;
		if (obj_of(m, &o))
			return NULL;
		int r = obj_lookup(&o, name, h, &addr);
		if (r)
			return r > 0 ? addr : NULL;
	}
	return NULL;
}

/* dlsym may allocate; the shim wraps no allocator, so this cannot come back
 * here. Racing threads store the same values. */
void ms_real_resolve_one(void **slot, const char *name)
{
	if (*slot)
		return;
	void *f = next_lookup(name);
	*slot = f ? f : dlsym(RTLD_NEXT, name);
}

static const char *const names[] = {
#define W(ret, name, params) #name,
#define R W
#include "real_all.def"
#undef W
#undef R
};

void ms_real_resolve(void)
{
	static int all;
	if (__atomic_load_n(&all, __ATOMIC_ACQUIRE))
		return;
	/* the table is its entries' pointers, in names[] order (real_all.def) */
	void **slot = (void **)&ms_real;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		ms_real_resolve_one(&slot[i], names[i]);
	__atomic_store_n(&all, 1, __ATOMIC_RELEASE);
}

int ms_real_known(const char *name)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(names[i], name))
			return 1;
	return 0;
}

int ms_real_check(char *out, size_t n)
{
	int found = 0, differ = 0;
	size_t used = 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		void *a = next_lookup(names[i]), *b = dlsym(RTLD_NEXT, names[i]);
		found += a != NULL;
		if (a && a != b) {
			differ++;
			int k = snprintf(out + used, n - used, " %s", names[i]);
			if (k > 0 && (size_t)k < n - used)
				used += (size_t)k;
		}
	}
	int k = snprintf(out + used, n - used, "; %zu names, %d found without dlsym, %d differ",
			 sizeof(names) / sizeof(names[0]), found, differ);
	(void)k;
	return differ;
}

_Static_assert(sizeof(struct ms_real) == sizeof(names) / sizeof(names[0]) * sizeof(void *),
	       "struct ms_real is one pointer per name of real_all.def");
