// Implementation of control_store.h (in progress).
#include "control_store.h"
