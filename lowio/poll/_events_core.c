/* lowio.poll._events_core: iterating an Events buffer, in C.
 *
 * A wait leaves, for each event, the id of its interned Event object in a
 * uint32 array (see lowio/poll/_events.py).  Iterating maps the ids to the
 * objects.  As a Python method that costs about three times what
 * `for fd, mask in select.epoll().poll(0)` spends per call with one ready
 * event; here it is one C slot.  EventsCore is the base of
 * lowio.poll.Events, which fills in the fields through the members below.
 *
 * Threads: like Events, owned by one thread at a time.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <stdint.h>

typedef struct {
    PyObject_HEAD
    Py_ssize_t n;           /* _n: events held (set by each poll) */
    Py_ssize_t capacity;    /* entries in ids */
    const uint32_t *ids;    /* each event's id; the subclass owns the memory */
    PyObject *objs;         /* _objs: list, id -> Event; None: no interning */
} EventsCore;

static PyObject *str_iter_uninterned;

/* iter(events): a snapshot of the events, in order.  Without interning
 * (objs is None) the subclass's _iter_uninterned() makes them. */
static PyObject *events_iter(EventsCore *self)
{
    PyObject *snapshot, *iterator;
    Py_ssize_t i, n = self->n, known;
    if (self->objs == NULL || !PyList_CheckExact(self->objs))
        return PyObject_CallMethodNoArgs((PyObject *)self, str_iter_uninterned);
    if (n < 0 || n > self->capacity) {
        PyErr_Format(PyExc_RuntimeError, "Events: %zd events held, capacity %zd", n,
                     self->capacity);
        return NULL;
    }
    known = PyList_GET_SIZE(self->objs);
    snapshot = PyTuple_New(n);
    if (snapshot == NULL)
        return NULL;
    for (i = 0; i < n; i++) {
        uint32_t id = self->ids[i];
        PyObject *event;
        if (id == 0 || (Py_ssize_t)id >= known) {
            Py_DECREF(snapshot);
            PyErr_Format(PyExc_RuntimeError, "Events: event %zd has no Event object "
                         "(id %u); was the buffer filled outside Poll.poll?", i, id);
            return NULL;
        }
        event = PyList_GET_ITEM(self->objs, id);
        Py_INCREF(event);
        PyTuple_SET_ITEM(snapshot, i, event);
    }
    iterator = PyObject_GetIter(snapshot);
    Py_DECREF(snapshot);
    return iterator;
}

static Py_ssize_t events_len(EventsCore *self)
{
    if (self->n < 0) {
        PyErr_Format(PyExc_RuntimeError, "Events: %zd events held", self->n);
        return -1;
    }
    return self->n;
}

/* EventsCore(ids_address, capacity): the address and length of the uint32
 * id array. */
static int events_init(EventsCore *self, PyObject *args, PyObject *kwargs)
{
    PyObject *address;
    Py_ssize_t capacity;
    void *ids;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "On:EventsCore",
                                     (char *[]){"ids_address", "capacity", NULL},
                                     &address, &capacity))
        return -1;
    ids = PyLong_AsVoidPtr(address);
    if (ids == NULL && PyErr_Occurred())
        return -1;
    self->ids = ids;
    self->capacity = capacity;
    self->n = 0;
    return 0;
}

static int events_traverse(EventsCore *self, visitproc visit, void *arg)
{
    Py_VISIT(self->objs);
    return 0;
}

static int events_clear(EventsCore *self)
{
    Py_CLEAR(self->objs);
    return 0;
}

static void events_dealloc(EventsCore *self)
{
    PyObject_GC_UnTrack(self);
    events_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMemberDef events_members[] = {
    {"_n", T_PYSSIZET, offsetof(EventsCore, n), 0, "events held"},
    {"_objs", T_OBJECT, offsetof(EventsCore, objs), 0,
     "list: id -> Event (None: events are made while iterating)"},
    {NULL, 0, 0, 0, NULL},
};

static PySequenceMethods events_as_sequence = {
    .sq_length = (lenfunc)events_len,
};

static PyTypeObject EventsCoreType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "lowio.poll._events_core.EventsCore",
    .tp_doc = PyDoc_STR("Iteration and len() of lowio.poll.Events, in C."),
    .tp_basicsize = sizeof(EventsCore),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)events_init,
    .tp_traverse = (traverseproc)events_traverse,
    .tp_clear = (inquiry)events_clear,
    .tp_dealloc = (destructor)events_dealloc,
    .tp_iter = (getiterfunc)events_iter,
    .tp_as_sequence = &events_as_sequence,
    .tp_members = events_members,
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "lowio.poll._events_core",
    .m_doc = PyDoc_STR("Iteration and len() of lowio.poll.Events, in C."),
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__events_core(void)
{
    PyObject *module;
    str_iter_uninterned = PyUnicode_InternFromString("_iter_uninterned");
    if (str_iter_uninterned == NULL || PyType_Ready(&EventsCoreType) < 0)
        return NULL;
    module = PyModule_Create(&module_def);
    if (module == NULL)
        return NULL;
    Py_INCREF(&EventsCoreType);
    if (PyModule_AddObject(module, "EventsCore", (PyObject *)&EventsCoreType) < 0) {
        Py_DECREF(&EventsCoreType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
