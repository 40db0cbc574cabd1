/* memshim-keeper — holds a store's arena and file memfds for its process
 * tree. Started by the first process of the tree (core/keeper.c), never by
 * hand: it expects the arena at fd 3 and the bound socket at fd 4. Its
 * server is keeper/, linked into this program only. */
#include "server.h"

int main(int argc, char **argv)
{
	return ms_keeper_main(argc, argv);
}
