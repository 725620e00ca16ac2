/* lowio._core._io_core: handing a poll's events to the waiting tasks, in C.
 *
 * IOManager._process (lowio/_core/_io.py) decodes each event of a poll
 * (`token << FLAG_BITS | epoll flags`), finds its cache entry (FdState) by
 * the token's slot, drops events of stale registrations, and either wakes
 * the task parked in that direction (what runner.reschedule does, inlined)
 * or sets the direction's READY flag.  In Python that is about 25 bytecodes
 * per event; dispatch() here does the same with direct access to the two
 * classes' __slots__, for runs without instruments (with instruments the
 * Python loop runs, since it calls the task_scheduled hook).
 *
 * configure() takes, once at import, the FdState and Task classes and the
 * bit layout; it reads the offsets of the slots it uses from their member
 * descriptors (and refuses classes whose attributes are not plain object
 * slots).  dispatch() accepts entries of exactly FdState and tasks of
 * exactly Task; anything else in a direction's task slot is tested for
 * truth as the Python code does (the falsy HELD marker, None).
 *
 * Threads: the run's thread only, with the GIL (like IOManager).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include "_slots.h"

#include <stdint.h>

static PyTypeObject *state_type;
static PyTypeObject *task_type;
static unsigned shift;
static uint64_t slot_mask, flag_mask, read_bits, unsure_bits, write_bits;

/* slot offsets: FdState's, then Task's */
static Py_ssize_t st_token, st_read_task, st_write_task, st_read_ready, st_write_ready,
    st_read_unsure;
static Py_ssize_t tk_abort, tk_sleep_data, tk_fn, tk_arg, tk_send;

static PyObject *configure(PyObject *module, PyObject *args)
{
    PyObject *state_cls, *task_cls;
    unsigned long long sm, fm, rb, ub, wb;
    if (!PyArg_ParseTuple(args, "O!O!IKKKKK:configure", &PyType_Type, &state_cls, &PyType_Type,
                          &task_cls, &shift, &sm, &fm, &rb, &ub, &wb))
        return NULL;
    if (shift >= 64) {
        PyErr_SetString(PyExc_ValueError, "configure: shift must be below 64");
        return NULL;
    }
    PyTypeObject *st = (PyTypeObject *)state_cls, *tk = (PyTypeObject *)task_cls;
    if (slot_offset(st, "token", &st_token) || slot_offset(st, "read_task", &st_read_task) ||
        slot_offset(st, "write_task", &st_write_task) ||
        slot_offset(st, "read_ready", &st_read_ready) ||
        slot_offset(st, "write_ready", &st_write_ready) ||
        slot_offset(st, "read_unsure", &st_read_unsure) || slot_offset(tk, "_abort", &tk_abort) ||
        slot_offset(tk, "custom_sleep_data", &tk_sleep_data) || slot_offset(tk, "_fn", &tk_fn) ||
        slot_offset(tk, "_arg", &tk_arg) || slot_offset(tk, "_send", &tk_send))
        return NULL;
    Py_INCREF(st);
    Py_XSETREF(state_type, st);
    Py_INCREF(tk);
    Py_XSETREF(task_type, tk);
    slot_mask = sm;
    flag_mask = fm;
    read_bits = rb;
    unsure_bits = ub;
    write_bits = wb;
    Py_RETURN_NONE;
}

/* the direction's task slot at off: wakes its task, or sets READY at
 * ready_off; -1 with an exception set on failure */
static int hand_out(PyObject *state, Py_ssize_t off, Py_ssize_t ready_off, PyObject *runq)
{
    PyObject *task = SLOT(state, off);
    int parked;
    if (task == NULL || task == Py_None)
        parked = 0;
    else if (Py_IS_TYPE(task, task_type))
        parked = 1;
    else if ((parked = PyObject_IsTrue(task)) < 0)
        return -1;
    if (!parked) {
        set_slot(state, ready_off, Py_True);
        return 0;
    }
    if (!Py_IS_TYPE(task, task_type)) {
        PyErr_Format(PyExc_TypeError, "an fd's waiting task is a %s, not a Task",
                     Py_TYPE(task)->tp_name);
        return -1;
    }
    Py_INCREF(task);
    set_slot(state, off, Py_None);
    /* runner.reschedule(task), inlined as in the Python loop */
    set_slot(task, tk_abort, Py_None);
    set_slot(task, tk_sleep_data, Py_None);
    PyObject *send = SLOT(task, tk_send);
    if (send == NULL) {
        Py_DECREF(task);
        PyErr_SetString(PyExc_AttributeError, "a task without _send");
        return -1;
    }
    set_slot(task, tk_fn, send);
    set_slot(task, tk_arg, Py_None);
    int rc = PyList_Append(runq, task);
    Py_DECREF(task);
    return rc;
}

static PyObject *dispatch(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 3 || nargs > 4 || !PyList_CheckExact(args[1]) || !PyList_CheckExact(args[2])) {
        PyErr_SetString(PyExc_TypeError, "dispatch(packed, slots: list, runq: list[, count])");
        return NULL;
    }
    Py_ssize_t count = PY_SSIZE_T_MAX;
    if (nargs == 4) {
        /* the first `count` entries only: a prepared wait's result, without
         * a slice of the buffer per wait */
        count = PyLong_AsSsize_t(args[3]);
        if (count == -1 && PyErr_Occurred())
            return NULL;
        if (count < 0) {
            PyErr_SetString(PyExc_ValueError, "dispatch: count must be >= 0");
            return NULL;
        }
    }
    if (state_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "dispatch: configure() was not called");
        return NULL;
    }
    PyObject *slots = args[1], *runq = args[2];
    Py_buffer view;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0)
        return NULL;
    const uint64_t *values = view.buf;
    Py_ssize_t n = view.len / (Py_ssize_t)sizeof(uint64_t);
    if (n > count)
        n = count;
    for (Py_ssize_t i = 0; i < n; i++) {
        uint64_t value = values[i];
        uint64_t token = value >> shift;
        uint64_t slot = token & slot_mask;
        if (slot >= (uint64_t)PyList_GET_SIZE(slots))
            continue;
        PyObject *state = PyList_GET_ITEM(slots, (Py_ssize_t)slot);
        if (state == Py_None)
            continue; /* the waker, the signal wakeup fd, or a freed slot */
        if (!Py_IS_TYPE(state, state_type)) {
            PyErr_Format(PyExc_TypeError, "a cache slot holds a %s, not an FdState",
                         Py_TYPE(state)->tp_name);
            goto fail;
        }
        PyObject *own = SLOT(state, st_token);
        if (own == NULL || !PyLong_CheckExact(own))
            continue;
        int overflow;
        long long have = PyLong_AsLongLongAndOverflow(own, &overflow);
        if (overflow || have < 0 || (uint64_t)have != token)
            continue; /* a stale registration */
        uint64_t bits = value & flag_mask;
        Py_INCREF(state); /* finalisers run by the slot updates may drop it */
        int rc = 0;
        if (bits & read_bits) {
            if (bits & unsure_bits)
                set_slot(state, st_read_unsure, Py_True);
            rc = hand_out(state, st_read_task, st_read_ready, runq);
        }
        if (rc == 0 && (bits & write_bits))
            rc = hand_out(state, st_write_task, st_write_ready, runq);
        Py_DECREF(state);
        if (rc < 0)
            goto fail;
    }
    PyBuffer_Release(&view);
    Py_RETURN_NONE;
fail:
    PyBuffer_Release(&view);
    return NULL;
}

static PyMethodDef methods[] = {
    {"configure", configure, METH_VARARGS,
     "configure(FdState, Task, shift, slot_mask, flag_mask, read_bits, unsure_bits, "
     "write_bits): the classes and bit layout dispatch() works with; once, at import."},
    {"dispatch", (PyCFunction)(void (*)(void))dispatch, METH_FASTCALL,
     "dispatch(packed, slots, runq): hands the events in packed (a buffer of uint64) to "
     "the cache entries in slots, appending the tasks woken to runq."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "lowio._core._io_core",
    "IOManager._process's event loop in C (see the source's header comment).", -1, methods,
};

PyMODINIT_FUNC PyInit__io_core(void) { return PyModule_Create(&module_def); }
