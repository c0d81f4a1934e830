// Implementation of control_state.h (in progress).
#include "control_state.h"
