/* lowio._core._step_core: a batch of task steps, in C.
 *
 * Runner.run_loop (lowio/_core/_run.py) steps every task of a batch: it
 * makes the task current, resumes its coroutine in the task's context, and
 * acts on what the coroutine yields.  Two outcomes make up nearly every
 * step of a busy run: a schedule point (the task yielded CHECKPOINT: it
 * goes to the back of the next batch) and a park (it yielded a Park trap
 * and nothing is pending for it: no Ctrl-C, no cancellation).  step() does
 * those two here, with direct access to the classes' __slots__ (about 30
 * bytecodes a step in Python; docs/design.md section 4.1), and returns to
 * the loop at the first step with any other outcome, before it touched
 * the task's counters, so that the Python code handles that step exactly
 * as it always did:
 *
 *   (i, YIELDED, msg)    the coroutine yielded msg, anything else: a Park
 *                        with Ctrl-C or a cancellation pending,
 *                        ParkRaisingHere, Detach, a foreign object;
 *   (i, RETURNED, value) the coroutine returned value (StopIteration);
 *   (i, RAISED, exc)     it raised exc (its traceback starts in the
 *                        coroutine: no frame of the loop is in it);
 *   (i, IN_PYTHON, None) batch[i] is not exactly a Task: the loop steps
 *                        it (nothing was done to it).
 *
 * None when the batch is done.  The task of the returned step is still the
 * current task (here["task"]), as the loop leaves it for task_exited.
 * step() is for runs without instruments: with them the loop steps in
 * Python, since it calls the task hooks.
 *
 * configure() takes, once at import, the Task, CancelStatus and Park
 * classes and CHECKPOINT; it reads the offsets of the slots it uses from
 * their member descriptors (and refuses classes whose attributes are not
 * plain object slots).
 *
 * Threads: the run's thread only, with the GIL (like the run loop).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include "_slots.h"

enum { YIELDED, RETURNED, RAISED, IN_PYTHON };

static PyTypeObject *task_type, *status_type, *park_type;
static PyObject *checkpoint; /* CHECKPOINT */
static PyObject *s_task;     /* "task": the key of the run context's slot */
static PyObject *one;

/* Task's slots, CancelStatus's, Park's */
static Py_ssize_t tk_fn, tk_arg, tk_send, tk_context, tk_sleep_data, tk_schedule_points,
    tk_abort, tk_cancel_points, tk_ki_pending, tk_cancel_status;
static Py_ssize_t cs_effectively_cancelled;
static Py_ssize_t pk_abort;

static PyObject *configure(PyObject *module, PyObject *args)
{
    PyObject *task_cls, *status_cls, *park_cls, *marker;
    if (!PyArg_ParseTuple(args, "O!O!O!O:configure", &PyType_Type, &task_cls, &PyType_Type,
                          &status_cls, &PyType_Type, &park_cls, &marker))
        return NULL;
    PyTypeObject *tk = (PyTypeObject *)task_cls, *cs = (PyTypeObject *)status_cls,
                 *pk = (PyTypeObject *)park_cls;
    if (slot_offset(tk, "_fn", &tk_fn) || slot_offset(tk, "_arg", &tk_arg) ||
        slot_offset(tk, "_send", &tk_send) || slot_offset(tk, "context", &tk_context) ||
        slot_offset(tk, "custom_sleep_data", &tk_sleep_data) ||
        slot_offset(tk, "_schedule_points", &tk_schedule_points) ||
        slot_offset(tk, "_abort", &tk_abort) ||
        slot_offset(tk, "_cancel_points", &tk_cancel_points) ||
        slot_offset(tk, "_ki_pending", &tk_ki_pending) ||
        slot_offset(tk, "_cancel_status", &tk_cancel_status) ||
        slot_offset(cs, "effectively_cancelled", &cs_effectively_cancelled) ||
        slot_offset(pk, "abort", &pk_abort))
        return NULL;
    if (s_task == NULL && (s_task = PyUnicode_InternFromString("task")) == NULL)
        return NULL;
    if (one == NULL && (one = PyLong_FromLong(1)) == NULL)
        return NULL;
    Py_INCREF(tk);
    Py_XSETREF(task_type, tk);
    Py_INCREF(cs);
    Py_XSETREF(status_type, cs);
    Py_INCREF(pk);
    Py_XSETREF(park_type, pk);
    Py_INCREF(marker);
    Py_XSETREF(checkpoint, marker);
    Py_RETURN_NONE;
}

/* obj.<counter slot at off> += 1; -1 with an exception set on failure */
static int count(PyObject *obj, Py_ssize_t off)
{
    PyObject *old = SLOT(obj, off);
    if (old == NULL) {
        PyErr_SetString(PyExc_AttributeError, "a task's step counter is unset");
        return -1;
    }
    PyObject *more;
    Py_ssize_t n;
    if (PyLong_CheckExact(old) && (n = PyLong_AsSsize_t(old)) >= 0 && n < PY_SSIZE_T_MAX)
        more = PyLong_FromSsize_t(n + 1);
    else {
        PyErr_Clear(); /* an overflowing int: the generic sum */
        more = PyNumber_Add(old, one);
    }
    if (more == NULL)
        return -1;
    SLOT(obj, off) = more;
    Py_DECREF(old);
    return 0;
}

/* whether the parked task has nothing pending (no Ctrl-C, its cancel
 * status not cancelled): 1, 0, or -1 for "let the loop decide" (a value
 * that is not plainly a bool, a status of another class) */
static int nothing_pending(PyObject *task)
{
    PyObject *ki = SLOT(task, tk_ki_pending);
    if (ki != Py_False)
        return ki == Py_True ? 0 : -1;
    PyObject *status = SLOT(task, tk_cancel_status);
    if (status == NULL || !Py_IS_TYPE(status, status_type))
        return -1;
    PyObject *cancelled = SLOT(status, cs_effectively_cancelled);
    if (cancelled == Py_False)
        return 1;
    return cancelled == Py_True ? 0 : -1;
}

static PyObject *report(Py_ssize_t i, int code, PyObject *value)
{
    PyObject *out = Py_BuildValue("(niO)", i, code, value == NULL ? Py_None : value);
    Py_XDECREF(value);
    return out;
}

/* the exception the step raised, fetched: (i, RETURNED, value) for a
 * StopIteration, else (i, RAISED, exc) */
static PyObject *report_error(Py_ssize_t i)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (value == NULL) { /* cannot happen after a failed call; be safe */
        Py_XDECREF(type);
        Py_XDECREF(tb);
        PyErr_SetString(PyExc_SystemError, "a task step failed without an exception");
        return NULL;
    }
    if (tb != NULL)
        PyException_SetTraceback(value, tb);
    Py_XDECREF(tb);
    int stop = PyErr_GivenExceptionMatches(type, PyExc_StopIteration);
    Py_DECREF(type);
    if (stop) {
        PyObject *result = ((PyStopIterationObject *)value)->value;
        Py_XINCREF(result);
        Py_DECREF(value);
        return report(i, RETURNED, result);
    }
    return report(i, RAISED, value);
}

static PyObject *step(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4 || !PyList_CheckExact(args[0]) || !PyDict_CheckExact(args[2]) ||
        !PyList_CheckExact(args[3])) {
        PyErr_SetString(PyExc_TypeError, "step(batch: list, start: int, here: dict, runq: list)");
        return NULL;
    }
    if (task_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "step: configure() was not called");
        return NULL;
    }
    PyObject *batch = args[0], *here = args[2], *runq = args[3];
    Py_ssize_t i = PyLong_AsSsize_t(args[1]);
    if (i == -1 && PyErr_Occurred())
        return NULL;
    if (i < 0) {
        PyErr_SetString(PyExc_ValueError, "step: start must be >= 0");
        return NULL;
    }
    for (; i < PyList_GET_SIZE(batch); i++) {
        PyObject *task = PyList_GET_ITEM(batch, i);
        if (!Py_IS_TYPE(task, task_type))
            return report(i, IN_PYTHON, NULL);
        Py_INCREF(task);
        if (PyDict_SetItem(here, s_task, task) < 0)
            goto fail;
        PyObject *context = SLOT(task, tk_context), *fn = SLOT(task, tk_fn),
                 *arg = SLOT(task, tk_arg);
        if (context == NULL || fn == NULL || arg == NULL || !PyContext_CheckExact(context)) {
            Py_DECREF(task);
            return report(i, IN_PYTHON, NULL);
        }
        /* task.context.run(task._fn, task._arg) */
        Py_INCREF(context);
        Py_INCREF(fn);
        Py_INCREF(arg);
        PyObject *msg = NULL;
        if (PyContext_Enter(context) == 0) {
            msg = PyObject_CallOneArg(fn, arg);
            if (PyContext_Exit(context) < 0)
                Py_CLEAR(msg);
        }
        Py_DECREF(context);
        Py_DECREF(fn);
        Py_DECREF(arg);
        if (msg == NULL) {
            Py_DECREF(task);
            return report_error(i);
        }
        if (msg == checkpoint) {
            if (count(task, tk_schedule_points) < 0)
                goto fail_msg;
            PyObject *send = SLOT(task, tk_send);
            if (send == NULL) {
                PyErr_SetString(PyExc_AttributeError, "a task without _send");
                goto fail_msg;
            }
            set_slot(task, tk_fn, send);
            set_slot(task, tk_arg, task);
            set_slot(task, tk_sleep_data, Py_None); /* cleared at every checkpoint */
            if (PyList_Append(runq, task) < 0)
                goto fail_msg;
        } else {
            int plain = Py_IS_TYPE(msg, park_type) ? nothing_pending(task) : 0;
            PyObject *abort = plain > 0 ? SLOT(msg, pk_abort) : NULL;
            if (abort == NULL) {
                Py_DECREF(task);
                return report(i, YIELDED, msg);
            }
            if (count(task, tk_schedule_points) < 0)
                goto fail_msg;
            set_slot(task, tk_abort, abort);
            if (count(task, tk_cancel_points) < 0)
                goto fail_msg;
        }
        Py_DECREF(msg);
        Py_DECREF(task);
        continue;
    fail_msg:
        Py_DECREF(msg);
    fail:
        Py_DECREF(task);
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"configure", configure, METH_VARARGS,
     "configure(Task, CancelStatus, Park, CHECKPOINT): the classes and marker step() works "
     "with; once, at import."},
    {"step", (PyCFunction)(void (*)(void))step, METH_FASTCALL,
     "step(batch, start, here, runq): steps batch[start:] while each step ends in a schedule "
     "point or a plain park; then (index, outcome, value), or None at the end."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "lowio._core._step_core",
    "The run loop's usual task steps in C (see the source's header comment).", -1, methods,
};

PyMODINIT_FUNC PyInit__step_core(void)
{
    PyObject *module = PyModule_Create(&module_def);
    if (module == NULL || PyModule_AddIntConstant(module, "YIELDED", YIELDED) < 0 ||
        PyModule_AddIntConstant(module, "RETURNED", RETURNED) < 0 ||
        PyModule_AddIntConstant(module, "RAISED", RAISED) < 0 ||
        PyModule_AddIntConstant(module, "IN_PYTHON", IN_PYTHON) < 0) {
        Py_XDECREF(module);
        return NULL;
    }
    return module;
}
