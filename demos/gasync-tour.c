/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <gasync/gasync.h>

int
main (int argc, char **argv)
{
  return 0;
}
