/* lowio._sys._sockio: a socket's non-blocking recv and send, in C.
 *
 * lowio's sockets are non-blocking, and the owned fast path
 * (lowio/_owned_fast_path.py) calls their recv and send once per
 * operation.  socket.socket's methods pay, per call, a PyArg_ParseTuple of
 * their format strings and a release and re-acquisition of the GIL around
 * the system call (about 1,400 instructions per echo round trip, a tenth
 * of lowio's): a non-blocking call never waits, so SockIO's methods keep
 * the GIL and parse their two arguments by hand.  Otherwise they behave as
 * socket.socket's do on a non-blocking socket: the same allocation
 * (bufsize bytes, shrunk to what arrived), EINTR retried after the signal
 * handlers ran, errors raised as OSError subclasses from errno, recv(0)
 * returns b"" without a system call.
 *
 * lowio._owned_ops calls the same code through the capsule _C_API
 * (_sockio_api.h), which reports EAGAIN without building BlockingIOError.
 *
 * SockIO(sock) reads the fd from the socket object at every call (so a
 * closed or detached socket's -1 gives EBADF, as socket.socket's methods
 * do).  CPython does not publish its socket object's layout; the fd is the
 * first field after the object header in every CPython 3 (Modules/
 * socketmodule.h), and the constructor checks that against sock.fileno(),
 * refusing (TypeError) an object where it does not hold: the caller then
 * uses socket.socket's own methods.
 *
 * Threads: any, with the GIL (which it keeps during the system call).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <limits.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "_sockio_api.h"

static PyObject *socket_type; /* _socket.socket */

typedef struct {
    PyObject_HEAD
    PyObject *sock;
} SockIO;

#define SOCK_FD(sock) (*(int *)((char *)(sock) + sizeof(PyObject)))

static int parse_flags(PyObject *const *args, Py_ssize_t nargs, Py_ssize_t at, int *flags)
{
    *flags = 0;
    if (nargs <= at)
        return 0;
    long value = PyLong_AsLong(args[at]);
    if (value == -1 && PyErr_Occurred())
        return -1;
    if (value < INT_MIN || value > INT_MAX) {
        PyErr_SetString(PyExc_OverflowError, "flags out of the range of a C int");
        return -1;
    }
    *flags = (int)value;
    return 0;
}

static int check_nargs(const char *name, Py_ssize_t nargs)
{
    if (nargs >= 1 && nargs <= 2)
        return 0;
    PyErr_Format(PyExc_TypeError, "%s() takes 1 or 2 arguments (%zd given)", name, nargs);
    return -1;
}

/* errno says the call would block, and the caller asked to be told so
 * (again != NULL) rather than get BlockingIOError */
static int would_block(int *again)
{
    if (again != NULL && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        *again = 1;
        return 1;
    }
    return 0;
}

static PyObject *recv_impl(SockIO *self, PyObject *const *args, Py_ssize_t nargs, int *again)
{
    if (check_nargs("recv", nargs) < 0)
        return NULL;
    Py_ssize_t size = PyNumber_AsSsize_t(args[0], PyExc_OverflowError);
    if (size == -1 && PyErr_Occurred())
        return NULL;
    int flags;
    if (parse_flags(args, nargs, 1, &flags) < 0)
        return NULL;
    if (size < 0) {
        PyErr_SetString(PyExc_ValueError, "negative buffersize in recv");
        return NULL;
    }
    if (size == 0)
        return PyBytes_FromStringAndSize(NULL, 0);
    PyObject *buf = PyBytes_FromStringAndSize(NULL, size);
    if (buf == NULL)
        return NULL;
    ssize_t got;
    for (;;) {
        got = recv(SOCK_FD(self->sock), PyBytes_AS_STRING(buf), (size_t)size, flags);
        if (got >= 0)
            break;
        if (errno != EINTR) {
            if (!would_block(again))
                PyErr_SetFromErrno(PyExc_OSError);
            Py_DECREF(buf);
            return NULL;
        }
        if (PyErr_CheckSignals() < 0) {
            Py_DECREF(buf);
            return NULL;
        }
    }
    if (got != size && _PyBytes_Resize(&buf, got) < 0)
        return NULL;
    return buf;
}

static PyObject *sockio_recv(SockIO *self, PyObject *const *args, Py_ssize_t nargs)
{
    return recv_impl(self, args, nargs, NULL);
}

static PyObject *send_impl(SockIO *self, PyObject *const *args, Py_ssize_t nargs, int *again)
{
    if (check_nargs("send", nargs) < 0)
        return NULL;
    int flags;
    if (parse_flags(args, nargs, 1, &flags) < 0)
        return NULL;
    Py_buffer view;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0)
        return NULL;
    ssize_t sent;
    for (;;) {
        sent = send(SOCK_FD(self->sock), view.buf, (size_t)view.len, flags);
        if (sent >= 0)
            break;
        if (errno != EINTR) {
            if (!would_block(again))
                PyErr_SetFromErrno(PyExc_OSError);
            break;
        }
        if (PyErr_CheckSignals() < 0)
            break;
    }
    PyBuffer_Release(&view);
    if (sent < 0)
        return NULL;
    return PyLong_FromSsize_t(sent);
}

static PyObject *sockio_send(SockIO *self, PyObject *const *args, Py_ssize_t nargs)
{
    return send_impl(self, args, nargs, NULL);
}

/* the C interface (_sockio_api.h): the methods, telling EAGAIN apart */
static PyObject *api_recv(PyObject *self, PyObject *const *args, Py_ssize_t nargs, int *again)
{
    *again = 0;
    return recv_impl((SockIO *)self, args, nargs, again);
}

static PyObject *api_send(PyObject *self, PyObject *const *args, Py_ssize_t nargs, int *again)
{
    *again = 0;
    return send_impl((SockIO *)self, args, nargs, again);
}

static PyObject *sockio_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyObject *sock;
    if (kwargs != NULL && PyDict_GET_SIZE(kwargs) != 0) {
        PyErr_SetString(PyExc_TypeError, "SockIO() takes no keyword arguments");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "O:SockIO", &sock))
        return NULL;
    int is_socket = PyObject_IsInstance(sock, socket_type);
    if (is_socket < 0)
        return NULL;
    if (!is_socket) {
        PyErr_Format(PyExc_TypeError, "SockIO() needs a socket.socket, not %s",
                     Py_TYPE(sock)->tp_name);
        return NULL;
    }
    PyObject *fileno = PyObject_CallMethod(sock, "fileno", NULL);
    if (fileno == NULL)
        return NULL;
    long fd = PyLong_AsLong(fileno);
    Py_DECREF(fileno);
    if (fd == -1 && PyErr_Occurred())
        return NULL;
    if (Py_TYPE(sock)->tp_basicsize < (Py_ssize_t)(sizeof(PyObject) + sizeof(int)) ||
        (long)SOCK_FD(sock) != fd) {
        PyErr_SetString(PyExc_TypeError,
                        "SockIO(): this Python's socket objects do not keep the fd first");
        return NULL;
    }
    SockIO *self = (SockIO *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    Py_INCREF(sock);
    self->sock = sock;
    return (PyObject *)self;
}

static int sockio_traverse(SockIO *self, visitproc visit, void *arg)
{
    Py_VISIT(self->sock);
    return 0;
}

static int sockio_clear(SockIO *self)
{
    Py_CLEAR(self->sock);
    return 0;
}

static void sockio_dealloc(SockIO *self)
{
    PyObject_GC_UnTrack(self);
    sockio_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef sockio_methods[] = {
    {"recv", (PyCFunction)(void (*)(void))sockio_recv, METH_FASTCALL,
     "recv(bufsize, flags=0, /): socket.recv on the non-blocking socket, keeping the GIL."},
    {"send", (PyCFunction)(void (*)(void))sockio_send, METH_FASTCALL,
     "send(data, flags=0, /): socket.send on the non-blocking socket, keeping the GIL."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject SockIO_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "lowio._sys._sockio.SockIO",
    .tp_basicsize = sizeof(SockIO),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "SockIO(sock): sock's non-blocking recv and send (see the source's header).",
    .tp_new = sockio_new,
    .tp_dealloc = (destructor)sockio_dealloc,
    .tp_traverse = (traverseproc)sockio_traverse,
    .tp_clear = (inquiry)sockio_clear,
    .tp_methods = sockio_methods,
};

static LowioSockIOAPI api = {
    LOWIO_SOCKIO_API_VERSION,
    &SockIO_Type,
    (PyCFunction)(void (*)(void))sockio_recv,
    (PyCFunction)(void (*)(void))sockio_send,
    api_recv,
    api_send,
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "lowio._sys._sockio",
    "A socket's non-blocking recv and send in C (see the source's header comment).", -1, NULL,
};

PyMODINIT_FUNC PyInit__sockio(void)
{
    if (PyType_Ready(&SockIO_Type) < 0)
        return NULL;
    PyObject *module = PyModule_Create(&module_def);
    if (module == NULL)
        return NULL;
    PyObject *sockmod = PyImport_ImportModule("_socket");
    if (sockmod == NULL)
        goto fail;
    socket_type = PyObject_GetAttrString(sockmod, "socket");
    Py_DECREF(sockmod);
    if (socket_type == NULL)
        goto fail;
    Py_INCREF(&SockIO_Type);
    if (PyModule_AddObject(module, "SockIO", (PyObject *)&SockIO_Type) < 0) {
        Py_DECREF(&SockIO_Type);
        goto fail;
    }
    PyObject *capsule = PyCapsule_New(&api, LOWIO_SOCKIO_API_NAME, NULL);
    if (capsule == NULL)
        goto fail;
    if (PyModule_AddObject(module, "_C_API", capsule) < 0) {
        Py_DECREF(capsule);
        goto fail;
    }
    return module;
fail:
    Py_DECREF(module);
    return NULL;
}
