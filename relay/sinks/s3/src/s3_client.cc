#include "s3_client.h"
