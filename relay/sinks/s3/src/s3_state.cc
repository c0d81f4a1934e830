#include "s3_state.h"
