/* version.h: the product token sent in Server: and printed by -V. */
#ifndef MPMD_VERSION_H
#define MPMD_VERSION_H
#include "config.h"
#define MPMD_SERVER_TOKEN "mpmd/" PACKAGE_VERSION
#endif
