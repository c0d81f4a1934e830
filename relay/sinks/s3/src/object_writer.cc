#include "object_writer.h"
