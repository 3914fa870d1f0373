// libpq, PostgreSQL's own client library (Debian: libpq-dev), for the PostgreSQL store.
#ifndef ROSTERFLOW_CLIBPQ_SHIM_H
#define ROSTERFLOW_CLIBPQ_SHIM_H

#include <libpq-fe.h>

#endif
