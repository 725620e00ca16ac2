/* lowio._core._local_core: PerThread, the base of the run context
 * (lowio/_core/_local.py): an object whose attributes are per thread, as on
 * a threading.local, read in a fraction of threading.local's time.
 *
 * The run context (which run and which task this thread is in) is read at
 * nearly every call into lowio: a checkpoint, a lock, a spawn, a cancel
 * scope.  threading.local looks the thread's dictionary up in the thread
 * state at every access (about 500 instructions a read on CPython 3.11,
 * measured with callgrind; docs/design.md section 4.2).  PerThread keeps
 * the same per-thread dictionary in the thread state's dict, under a key of
 * its own, and remembers the last thread that used it (by the thread
 * state's unique id, never reused within the interpreter) and that thread's
 * dictionary: a read from the same thread as the previous one is one
 * dictionary lookup.
 *
 * Semantics, as threading.local's where it matters here: every thread sees
 * its own attributes, missing ones fall back to the class (the defaults of
 * RunContext); ``__dict__`` is the calling thread's dictionary; deleting
 * an attribute a thread never set raises AttributeError.  A thread's
 * dictionary lives as long as its thread state (and, for the last thread
 * to use the object, until another thread does).
 *
 * Threads: any, with the GIL.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

typedef struct {
    PyObject_HEAD
    PyObject *key;         /* this object's key in every thread state's dict */
    uint64_t cached_id;    /* the thread state id of the last thread, 0 for none */
    PyObject *cached_dict; /* that thread's dictionary (a strong reference) */
} PerThread;

/* the calling thread's dictionary (borrowed), made on first use; NULL with
 * an exception set if the thread state has no dict */
static PyObject *thread_dict(PerThread *self)
{
    PyThreadState *tstate = PyThreadState_Get();
    uint64_t id = PyThreadState_GetID(tstate);
    if (id == self->cached_id && self->cached_dict != NULL)
        return self->cached_dict;
    PyObject *states = PyThreadState_GetDict(); /* borrowed */
    if (states == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "PerThread: this thread has no thread state dict");
        return NULL;
    }
    PyObject *dict = PyDict_GetItemWithError(states, self->key); /* borrowed */
    if (dict == NULL) {
        if (PyErr_Occurred())
            return NULL;
        dict = PyDict_New();
        if (dict == NULL)
            return NULL;
        int failed = PyDict_SetItem(states, self->key, dict);
        Py_DECREF(dict); /* the thread state's dict holds it */
        if (failed)
            return NULL;
    }
    Py_INCREF(dict);
    Py_XSETREF(self->cached_dict, dict);
    self->cached_id = id;
    return dict;
}

static PyObject *per_thread_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    if (PyTuple_GET_SIZE(args) || (kwargs != NULL && PyDict_GET_SIZE(kwargs))) {
        PyErr_Format(PyExc_TypeError, "%s() takes no arguments", type->tp_name);
        return NULL;
    }
    PerThread *self = (PerThread *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->key = PyUnicode_FromFormat("lowio._core._local_core.PerThread.%p", (void *)self);
    if (self->key == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static int per_thread_traverse(PerThread *self, visitproc visit, void *arg)
{
    Py_VISIT(self->cached_dict);
    Py_VISIT(Py_TYPE(self));
    return 0;
}

static int per_thread_clear(PerThread *self)
{
    Py_CLEAR(self->cached_dict);
    self->cached_id = 0;
    return 0;
}

static void per_thread_dealloc(PerThread *self)
{
    PyTypeObject *type = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    per_thread_clear(self);
    Py_CLEAR(self->key);
    type->tp_free((PyObject *)self);
    Py_DECREF(type);
}

static PyObject *per_thread_getattro(PerThread *self, PyObject *name)
{
    if (PyUnicode_CheckExact(name)) {
        PyObject *dict = thread_dict(self);
        if (dict == NULL)
            return NULL;
        PyObject *value = PyDict_GetItemWithError(dict, name); /* borrowed */
        if (value != NULL) {
            Py_INCREF(value);
            return value;
        }
        if (PyErr_Occurred())
            return NULL;
    }
    return PyObject_GenericGetAttr((PyObject *)self, name); /* the class's defaults */
}

static int per_thread_setattro(PerThread *self, PyObject *name, PyObject *value)
{
    if (!PyUnicode_Check(name)) {
        PyErr_Format(PyExc_TypeError, "attribute name must be a string, not '%.100s'",
                     Py_TYPE(name)->tp_name);
        return -1;
    }
    if (PyUnicode_CompareWithASCIIString(name, "__dict__") == 0 ||
        PyUnicode_CompareWithASCIIString(name, "__class__") == 0) {
        PyErr_Format(PyExc_AttributeError, "'%.100s' object attribute '%U' is read-only",
                     Py_TYPE(self)->tp_name, name);
        return -1;
    }
    PyObject *dict = thread_dict(self);
    if (dict == NULL)
        return -1;
    if (value != NULL)
        return PyDict_SetItem(dict, name, value);
    if (PyDict_DelItem(dict, name) == 0)
        return 0;
    if (PyErr_ExceptionMatches(PyExc_KeyError)) {
        PyErr_Clear();
        PyErr_Format(PyExc_AttributeError, "'%.100s' object has no attribute '%U'",
                     Py_TYPE(self)->tp_name, name);
    }
    return -1;
}

static PyObject *per_thread_get_dict(PerThread *self, void *closure)
{
    PyObject *dict = thread_dict(self);
    Py_XINCREF(dict);
    return dict;
}

static PyGetSetDef per_thread_getset[] = {
    {"__dict__", (getter)per_thread_get_dict, NULL, "The calling thread's attributes.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot per_thread_slots[] = {
    {Py_tp_doc, "An object whose attributes are per thread (see lowio/_core/_local_core.c)."},
    {Py_tp_new, per_thread_new},
    {Py_tp_dealloc, per_thread_dealloc},
    {Py_tp_traverse, per_thread_traverse},
    {Py_tp_clear, per_thread_clear},
    {Py_tp_getattro, per_thread_getattro},
    {Py_tp_setattro, per_thread_setattro},
    {Py_tp_getset, per_thread_getset},
    {0, NULL},
};

static PyType_Spec per_thread_spec = {
    "lowio._core._local_core.PerThread",
    sizeof(PerThread),
    0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    per_thread_slots,
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "lowio._core._local_core",
    "PerThread: per-thread attributes, read fast (see the file's header).", -1, NULL,
};

PyMODINIT_FUNC PyInit__local_core(void)
{
    PyObject *module = PyModule_Create(&module_def);
    if (module == NULL)
        return NULL;
    PyObject *type = PyType_FromSpec(&per_thread_spec);
    if (type == NULL || PyModule_AddObject(module, "PerThread", type) < 0) {
        Py_XDECREF(type);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
