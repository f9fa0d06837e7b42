/* gc/gc_typed.h: the same header as ../gc_typed.h. */
#include "../gc_typed.h"
