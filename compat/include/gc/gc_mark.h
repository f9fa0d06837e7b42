/* gc/gc_mark.h: the same header as ../gc_mark.h. */
#include "../gc_mark.h"
