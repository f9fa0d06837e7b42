/* gc/gc.h: the same header as ../gc.h (bdwgc installs both spellings). */
#include "../gc.h"
