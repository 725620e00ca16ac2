/* lowio._sys._sockio's C interface, for lowio._owned_ops.
 *
 * The owned fast path's C operations call a lowio socket's recv and send
 * once per operation.  Through the Python methods, a read or write that
 * would block raises BlockingIOError, which the operation catches at once:
 * PyErr_SetFromErrno formats strerror's text, decodes it and builds the
 * exception (most of the cost of an EAGAIN recv).  These entry points take
 * the methods' own arguments and do exactly what they do, except that
 * EAGAIN / EWOULDBLOCK sets *again to 1 and returns NULL with no exception
 * set (every other outcome leaves *again 0).
 *
 * Import it with PyCapsule_Import(LOWIO_SOCKIO_API_NAME, 0); a caller
 * recognises a bound SockIO method by its type (PyCFunction whose self is
 * of exactly api->type) and its C function (api->recv_meth, send_meth).
 */
#ifndef LOWIO_SOCKIO_API_H
#define LOWIO_SOCKIO_API_H

#include <Python.h>

#define LOWIO_SOCKIO_API_NAME "lowio._sys._sockio._C_API"
#define LOWIO_SOCKIO_API_VERSION 1

typedef PyObject *(*lowio_sockio_call)(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                                       int *again);

typedef struct {
    int version; /* LOWIO_SOCKIO_API_VERSION */
    PyTypeObject *type;
    PyCFunction recv_meth, send_meth; /* the methods' C functions */
    lowio_sockio_call recv, send;
} LowioSockIOAPI;

#endif
