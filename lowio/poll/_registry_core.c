/* lowio.poll._registry_core: Registry.register / reregister / deregister as
 * C methods, for the epoll selector.  It lives in the poll layer because it
 * holds that layer's argument semantics; epoll_ctl itself, with its source
 * checks, is the platform layer's (lowio/_sys/_epoll_ctl.h).
 *
 * Why these three are not cffi calls: a cffi call with several arguments
 * builds a tuple and runs a converter per argument, which costs about
 * 0.1 us more than select.epoll.modify spends around the same epoll_ctl,
 * and a Python method in front of it (argument checks, mask lookup) costs
 * as much again.  Here each public method is one vectorcall that handles
 * the common, well-formed call itself:
 *
 *   source  an int >= 0, or an object whose fileno() returns one
 *   token   an int, 0 <= token < TOKEN_LIMIT (lowio.poll)
 *   interest an exact lowio.poll.Interest with a non-empty value
 *   mode    given by keyword or left out; one of EDGE, LEVEL, ONESHOT
 *
 * and calls epoll_ctl (after fcntl, for register's blocking-socket check)
 * with the GIL held: neither call blocks (epoll_ctl may wait on a kernel
 * mutex for as long as a concurrent epoll_wait copies events out), and
 * releasing the GIL would let a thread that is waiting for it keep it for a
 * whole switch interval (5 ms) before this call could return.
 *
 * Every other call goes to the
 * Python methods _register_slow / _reregister_slow / _deregister_slow of
 * the subclass (lowio.poll.Registry), which hold the full semantics and
 * every argument error; so do all calls on a poll(2) selector.  A failing
 * epoll_ctl becomes the exception the selector's _ctl_error(result, op, fd)
 * returns.  The poll layer fills in what Interest, the modes and tokens mean,
 * and which selector type has a struct lowio_epoll, with configure(), once,
 * at import.
 *
 * Threads: like the selector, any thread may call these at any time.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <limits.h>

#include "_epoll_ctl.h"

#define MODES 3                 /* EDGE, LEVEL, ONESHOT */
#define INTEREST_VALUES 8       /* READABLE | WRITABLE | PRIORITY: 1..7 */

/* Set by configure(): the Interest type, the mode objects, and the epoll
 * mask of each (mode, interest value); 0 marks an empty interest. */
static PyTypeObject *interest_type;
static PyObject *modes[MODES];
static uint32_t masks[MODES][INTEREST_VALUES];
static uint64_t token_limit;            /* 0 until configured: all slow */
static PyTypeObject *epoll_type;        /* the selector with a struct lowio_epoll */

static PyObject *str_fileno;
static PyObject *str_register_slow, *str_reregister_slow, *str_deregister_slow;

typedef struct {
    PyObject_HEAD
    struct lowio_epoll *ep;     /* the selector's; NULL for a poll(2) one */
    PyObject *selector;         /* owns *ep; makes the exceptions */
} RegistryCore;

/* ---- the fast path's argument checks: each says "slow path" rather than
 * raising, and leaves no exception set. */

/* The fd of `source`, or -1. */
static int fast_fd(PyObject *source)
{
    long fd;
    if (PyLong_CheckExact(source)) {
        fd = PyLong_AsLong(source);
    } else if (PyLong_Check(source)) {
        return -1;              /* bool, or an int subclass */
    } else {
        PyObject *result = PyObject_CallMethodNoArgs(source, str_fileno);
        if (result == NULL) {
            PyErr_Clear();
            return -1;
        }
        fd = PyLong_CheckExact(result) ? PyLong_AsLong(result) : -1;
        Py_DECREF(result);
    }
    if (fd < 0 || fd > INT_MAX) {
        PyErr_Clear();          /* an overflowing int */
        return -1;
    }
    return (int)fd;
}

/* 1 and the token in *out, or 0. */
static int fast_token(PyObject *token, uint64_t *out)
{
    unsigned long long value;
    if (!PyLong_CheckExact(token))
        return 0;
    value = PyLong_AsUnsignedLongLong(token);
    if (value == (unsigned long long)-1 && PyErr_Occurred()) {
        PyErr_Clear();          /* negative, or beyond 64 bits */
        return 0;
    }
    if (value >= token_limit)
        return 0;
    *out = value;
    return 1;
}

/* The epoll mask for (interest, mode), or 0. */
static uint32_t fast_mask(PyObject *interest, PyObject *mode)
{
    long value;
    int m;
    if (Py_TYPE(interest) != interest_type)
        return 0;
    for (m = 0; m < MODES && modes[m] != mode; m++)
        ;
    if (m == MODES)
        return 0;
    value = PyLong_AsLong(interest);
    if (value < 1 || value >= INTEREST_VALUES) {
        PyErr_Clear();
        return 0;
    }
    return masks[m][value];
}

/* 1 if the keywords are none or only `mode` (stored in *mode), else 0. */
static int mode_keyword(PyObject *const *args, Py_ssize_t nargs,
                        PyObject *kwnames, PyObject **mode)
{
    if (kwnames == NULL)
        return 1;
    if (PyTuple_GET_SIZE(kwnames) != 1
        || PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, 0), "mode") != 0)
        return 0;
    *mode = args[nargs];
    return 1;
}

/* ---- the two outcomes ---- */

static PyObject *slow(PyObject *self, PyObject *name, PyObject *const *args,
                      Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *method = PyObject_GetAttr(self, name), *result;
    if (method == NULL)
        return NULL;
    result = PyObject_Vectorcall(method, args, (size_t)nargs, kwnames);
    Py_DECREF(method);
    return result;
}

/* epoll_ctl; None, or NULL with the selector's exception set. */
static PyObject *ctl(RegistryCore *self, int op, int fd, uint32_t mask, uint64_t token)
{
    int epfd = self->ep->epfd, result;
    const char *op_name = op == EPOLL_CTL_ADD ? "ADD" : op == EPOLL_CTL_MOD ? "MOD" : "DEL";
    PyObject *error;
    if (epfd < 0) {
        result = -EBADF;        /* closed, or forked: _ctl_error says which */
    } else {
        result = lowio_epoll_ctl(epfd, op, fd, mask, token);
    }
    if (result == 0)
        Py_RETURN_NONE;
    error = PyObject_CallMethod(self->selector, "_ctl_error", "isi", result, op_name, fd);
    if (error != NULL) {
        PyErr_SetObject((PyObject *)Py_TYPE(error), error);
        Py_DECREF(error);
    }
    return NULL;
}

/* ---- the methods ---- */

PyDoc_STRVAR(register_doc,
"register(source, token, interest, *, mode=EDGE, exclusive=False, wakeup=False)\n"
"--\n\n"
"Starts watching ``source``; its events will carry ``token``.\n\n"
"Raises ``FileExistsError`` if it is registered already,\n"
"``PermissionError`` for a regular file, ``OSError`` (EBADF) for a\n"
"closed fd, ``ValueError`` for a blocking socket, a negative fd or\n"
"one beyond 2**31-1, a bad token or interest, or an ``exclusive``\n"
"combination the kernel refuses; ``TypeError`` for a source that is\n"
"neither an int nor has ``fileno()`` (whose own exceptions propagate);\n"
"``ValueError`` after the ``Poll`` is closed, ``RuntimeError`` in a\n"
"forked child.  Any thread may call it; not a checkpoint.");

/* register and reregister: the same fast path, ADD or MOD. */
static PyObject *add_or_modify(RegistryCore *self, PyObject *const *args, Py_ssize_t nargs,
                               PyObject *kwnames, int op, PyObject *slow_name)
{
    PyObject *mode = modes[0];
    uint64_t token;
    uint32_t mask;
    int fd;
    if (self->ep == NULL || nargs != 3 || !mode_keyword(args, nargs, kwnames, &mode)
        || (fd = fast_fd(args[0])) < 0 || !fast_token(args[1], &token)
        || (mask = fast_mask(args[2], mode)) == 0)
        return slow((PyObject *)self, slow_name, args, nargs, kwnames);
    return ctl(self, op, fd, mask, token);
}

static PyObject *core_register(RegistryCore *self, PyObject *const *args,
                               Py_ssize_t nargs, PyObject *kwnames)
{
    return add_or_modify(self, args, nargs, kwnames, EPOLL_CTL_ADD, str_register_slow);
}

PyDoc_STRVAR(reregister_doc,
"reregister(source, token, interest, *, mode=EDGE, wakeup=False, exclusive=False)\n"
"--\n\n"
"Replaces the token, interest and mode of a registered source (and\n"
"re-arms it: an already-ready source is reported again).\n\n"
"Raises ``FileNotFoundError`` if it is not registered; ``ValueError``\n"
"for ``exclusive=True`` (epoll can only set it on ``register``) and the\n"
"argument errors of ``register``.  Any thread may call it.");

static PyObject *core_reregister(RegistryCore *self, PyObject *const *args,
                                 Py_ssize_t nargs, PyObject *kwnames)
{
    return add_or_modify(self, args, nargs, kwnames, EPOLL_CTL_MOD, str_reregister_slow);
}

PyDoc_STRVAR(deregister_doc,
"deregister(source)\n"
"--\n\n"
"Stops watching ``source``; no event for it is returned by polls\n"
"that start afterwards, nor by a wait that ends after this returned.\n"
"``FileNotFoundError`` if it is not registered; the source errors of\n"
"``register``.  Any thread may call it.");

static PyObject *core_deregister(RegistryCore *self, PyObject *const *args,
                                 Py_ssize_t nargs, PyObject *kwnames)
{
    int fd;
    if (self->ep == NULL || nargs != 1 || kwnames != NULL || (fd = fast_fd(args[0])) < 0)
        return slow((PyObject *)self, str_deregister_slow, args, nargs, kwnames);
    return ctl(self, EPOLL_CTL_DEL, fd, 0, 0);
}

/* ---- the type ---- */

/* RegistryCore(selector): the fast path is taken only for a selector of
 * exactly the configured epoll type, whose ep_address property is the
 * address of its struct lowio_epoll (valid while the selector lives, and
 * this object holds it).  Any other object, crafted or not, gets the slow
 * path: no address is ever taken from an arbitrary object. */
static int core_init(RegistryCore *self, PyObject *args, PyObject *kwargs)
{
    PyObject *selector;
    void *ep = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O:RegistryCore",
                                     (char *[]){"selector", NULL}, &selector))
        return -1;
    if (epoll_type != NULL && Py_TYPE(selector) == epoll_type) {
        PyObject *address = PyObject_GetAttrString(selector, "ep_address");
        if (address == NULL)
            return -1;
        ep = PyLong_AsVoidPtr(address);
        Py_DECREF(address);
        if (ep == NULL && PyErr_Occurred())
            return -1;
    }
    self->ep = ep;
    Py_INCREF(selector);
    Py_XSETREF(self->selector, selector);
    return 0;
}

static int core_traverse(RegistryCore *self, visitproc visit, void *arg)
{
    Py_VISIT(self->selector);
    return 0;
}

static int core_clear(RegistryCore *self)
{
    Py_CLEAR(self->selector);
    self->ep = NULL;            /* it belonged to the selector */
    return 0;
}

static void core_dealloc(RegistryCore *self)
{
    PyObject_GC_UnTrack(self);
    core_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef core_methods[] = {
    {"register", (PyCFunction)(void (*)(void))core_register,
     METH_FASTCALL | METH_KEYWORDS, register_doc},
    {"reregister", (PyCFunction)(void (*)(void))core_reregister,
     METH_FASTCALL | METH_KEYWORDS, reregister_doc},
    {"deregister", (PyCFunction)(void (*)(void))core_deregister,
     METH_FASTCALL | METH_KEYWORDS, deregister_doc},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef core_members[] = {
    {"_selector", T_OBJECT, offsetof(RegistryCore, selector), READONLY,
     "the selector this registry changes"},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject RegistryCoreType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "lowio.poll._registry_core.RegistryCore",
    .tp_doc = PyDoc_STR("Registry methods in C (subclassed by lowio.poll.Registry)."),
    .tp_basicsize = sizeof(RegistryCore),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)core_init,
    .tp_traverse = (traverseproc)core_traverse,
    .tp_clear = (inquiry)core_clear,
    .tp_dealloc = (destructor)core_dealloc,
    .tp_methods = core_methods,
    .tp_members = core_members,
};

/* ---- configure() and the module ---- */

PyDoc_STRVAR(configure_doc,
"configure(interest_type, modes, masks, token_limit, epoll_type)\n"
"--\n\n"
"Tells the fast path what the poll layer's arguments mean: ``modes`` is\n"
"(EDGE, LEVEL, ONESHOT), ``masks[m][v]`` the epoll mask for mode m\n"
"and interest value v (0: empty), tokens are below ``token_limit``, and\n"
"selectors of exactly ``epoll_type`` have an ``ep_address``.  Called\n"
"once, at import.");

static PyObject *configure(PyObject *module, PyObject *args)
{
    PyObject *type, *mode_objs, *mask_rows, *selector_type;
    unsigned long long limit;
    uint32_t table[MODES][INTEREST_VALUES];
    int m, v;
    if (!PyArg_ParseTuple(args, "O!O!O!KO!:configure", &PyType_Type, &type,
                          &PyTuple_Type, &mode_objs, &PyTuple_Type, &mask_rows, &limit,
                          &PyType_Type, &selector_type))
        return NULL;
    if (PyTuple_GET_SIZE(mode_objs) != MODES || PyTuple_GET_SIZE(mask_rows) != MODES) {
        PyErr_SetString(PyExc_ValueError, "configure() takes 3 modes and 3 mask rows");
        return NULL;
    }
    for (m = 0; m < MODES; m++) {
        PyObject *row = PyTuple_GET_ITEM(mask_rows, m);
        if (!PyTuple_Check(row) || PyTuple_GET_SIZE(row) != INTEREST_VALUES) {
            PyErr_SetString(PyExc_ValueError, "each mask row must be a tuple of 8 ints");
            return NULL;
        }
        for (v = 0; v < INTEREST_VALUES; v++) {
            unsigned long mask = PyLong_AsUnsignedLong(PyTuple_GET_ITEM(row, v));
            if (mask == (unsigned long)-1 && PyErr_Occurred())
                return NULL;
            table[m][v] = (uint32_t)mask;
        }
    }
    Py_INCREF(type);
    Py_XSETREF(interest_type, (PyTypeObject *)type);
    for (m = 0; m < MODES; m++) {
        Py_INCREF(PyTuple_GET_ITEM(mode_objs, m));
        Py_XSETREF(modes[m], PyTuple_GET_ITEM(mode_objs, m));
    }
    memcpy(masks, table, sizeof masks);
    token_limit = limit;
    Py_INCREF(selector_type);
    Py_XSETREF(epoll_type, (PyTypeObject *)selector_type);
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"configure", configure, METH_VARARGS, configure_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "lowio.poll._registry_core",
    .m_doc = PyDoc_STR("Registry.register / reregister / deregister in C (epoll)."),
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__registry_core(void)
{
    PyObject *module;
#define INTERN(var, text) \
    if ((var = PyUnicode_InternFromString(text)) == NULL) return NULL
    INTERN(str_fileno, "fileno");
    INTERN(str_register_slow, "_register_slow");
    INTERN(str_reregister_slow, "_reregister_slow");
    INTERN(str_deregister_slow, "_deregister_slow");
#undef INTERN
    if (PyType_Ready(&RegistryCoreType) < 0)
        return NULL;
    module = PyModule_Create(&module_def);
    if (module == NULL)
        return NULL;
    Py_INCREF(&RegistryCoreType);
    if (PyModule_AddObject(module, "RegistryCore", (PyObject *)&RegistryCoreType) < 0) {
        Py_DECREF(&RegistryCoreType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
