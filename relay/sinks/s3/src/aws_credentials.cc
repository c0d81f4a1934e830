#include "aws_credentials.h"
