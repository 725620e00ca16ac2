/* lowio._core._cancel_core: making, entering and exiting a cancel scope, in C.
 *
 * A busy server enters and leaves cancel scopes far more often than it
 * cancels one (anycorn on anyio: about nine scopes per HTTP request, nearly
 * all without a deadline, left with nothing propagating).  Both ends are a
 * few dozen bytecodes of slot reads and writes in Python; here they are the
 * same reads and writes with direct slot access (docs/design.md section
 * 5.1), and so is making a scope without arguments.  The rules live in
 * lowio/_core/_cancel.py: this file does only the common case of each,
 * exactly as BaseCancelScope's Python methods do it, and hands every other
 * case to them untouched:
 *
 *   init(scope)   what BaseCancelScope._init_py does for a scope made
 *                 without arguments; otherwise _init_py(scope, ...);
 *   enter(scope)  what BaseCancelScope._enter_py does, when the scope was
 *                 never entered, a task is current, and the scope's
 *                 deadline, if any, has not passed on entry (the clock is
 *                 read once, as in Python); otherwise _enter_py(scope);
 *   exit(scope, etype, exc, tb)
 *                 what BaseCancelScope._exit_py does when nothing is
 *                 propagating and the task that entered the scope leaves
 *                 it innermost first, its only task, with no node below
 *                 it; otherwise _exit_py(scope, etype, exc, tb).
 *
 * methods() returns the three as method descriptors of BaseCancelScope,
 * which _cancel.py installs as its __init__, __enter__ and __exit__.
 * configure() takes, once at import, the run context, the Task,
 * CancelStatus and BaseCancelScope classes and the three Python methods;
 * it reads the offsets of the slots it uses from their member descriptors
 * (and refuses classes whose attributes are not plain object slots).  A slot that is unset, a
 * value of an unexpected type, or a run context without a task sends the
 * call to Python, which raises what it raises.
 *
 * Threads: with the GIL, from any thread (the run context is per thread).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <structmember.h>

#include "_slots.h"

static PyObject *run_context; /* GLOBAL_RUN_CONTEXT */
static PyTypeObject *task_type, *status_type, *scope_type;
static PyObject *init_py, *enter_py, *exit_py; /* BaseCancelScope._init_py, ... */
static PyObject *s_task, *s_clock, *s_current_time, *s_timers, *s_add, *s_cancel, *s_expire;
static PyObject *empty_tuple, *infinity;

/* the slots used: Task's, CancelStatus's, BaseCancelScope's */
static Py_ssize_t tk_cancel_status, tk_runner;
static Py_ssize_t cs_children, cs_parent, cs_scope, cs_tasks, cs_abandoned, cs_cancelled;
static Py_ssize_t sc_cancel_called, sc_cancel_reason, sc_cancel_status, sc_deadline,
    sc_relative_deadline, sc_runner, sc_shield, sc_timer_entry, sc_cancelled_caught;

static PyObject *configure(PyObject *module, PyObject *args)
{
    PyObject *context, *task_cls, *status_cls, *scope_cls, *init, *enter, *exit;
    if (!PyArg_ParseTuple(args, "OO!O!O!OOO:configure", &context, &PyType_Type, &task_cls,
                          &PyType_Type, &status_cls, &PyType_Type, &scope_cls, &init, &enter,
                          &exit))
        return NULL;
    PyTypeObject *tk = (PyTypeObject *)task_cls, *cs = (PyTypeObject *)status_cls,
                 *sc = (PyTypeObject *)scope_cls;
    if (slot_offset(tk, "_cancel_status", &tk_cancel_status) ||
        slot_offset(tk, "_runner", &tk_runner) ||
        slot_offset(cs, "_children", &cs_children) || slot_offset(cs, "_parent", &cs_parent) ||
        slot_offset(cs, "_scope", &cs_scope) || slot_offset(cs, "_tasks", &cs_tasks) ||
        slot_offset(cs, "abandoned_by_misnesting", &cs_abandoned) ||
        slot_offset(cs, "effectively_cancelled", &cs_cancelled) ||
        slot_offset(sc, "_cancel_called", &sc_cancel_called) ||
        slot_offset(sc, "_cancel_reason", &sc_cancel_reason) ||
        slot_offset(sc, "_cancel_status", &sc_cancel_status) ||
        slot_offset(sc, "_deadline", &sc_deadline) ||
        slot_offset(sc, "_relative_deadline", &sc_relative_deadline) ||
        slot_offset(sc, "_runner", &sc_runner) || slot_offset(sc, "_shield", &sc_shield) ||
        slot_offset(sc, "_timer_entry", &sc_timer_entry) ||
        slot_offset(sc, "cancelled_caught", &sc_cancelled_caught))
        return NULL;
    if (!PyCallable_Check(init) || !PyCallable_Check(enter) || !PyCallable_Check(exit)) {
        PyErr_SetString(PyExc_TypeError, "configure: the Python methods must be callable");
        return NULL;
    }
#define INTERN(var, text)                                                                     \
    if (var == NULL && (var = PyUnicode_InternFromString(text)) == NULL)                     \
        return NULL;
    INTERN(s_task, "task")
    INTERN(s_clock, "clock")
    INTERN(s_current_time, "current_time")
    INTERN(s_timers, "timers")
    INTERN(s_add, "add")
    INTERN(s_cancel, "cancel")
    INTERN(s_expire, "_expire")
#undef INTERN
    if (empty_tuple == NULL && (empty_tuple = PyTuple_New(0)) == NULL)
        return NULL;
    if (infinity == NULL && (infinity = PyFloat_FromDouble(Py_HUGE_VAL)) == NULL)
        return NULL;
    Py_INCREF(context);
    Py_XSETREF(run_context, context);
    Py_INCREF(tk);
    Py_XSETREF(task_type, tk);
    Py_INCREF(cs);
    Py_XSETREF(status_type, cs);
    Py_INCREF(sc);
    Py_XSETREF(scope_type, sc);
    Py_INCREF(init);
    Py_XSETREF(init_py, init);
    Py_INCREF(enter);
    Py_XSETREF(enter_py, enter);
    Py_INCREF(exit);
    Py_XSETREF(exit_py, exit);
    Py_RETURN_NONE;
}

/* the current task (a new reference), NULL without an error if there is
 * none or it is not exactly a Task, NULL with an error if reading failed */
static PyObject *current_task(void)
{
    PyObject *task = PyObject_GetAttr(run_context, s_task);
    if (task == NULL)
        return NULL;
    if (!Py_IS_TYPE(task, task_type)) {
        Py_DECREF(task);
        return NULL;
    }
    return task;
}

/* a float slot's value, or -1 with *ok = 0 if it is not exactly a float */
static double float_slot(PyObject *obj, Py_ssize_t off, int *ok)
{
    PyObject *value = SLOT(obj, off);
    if (value == NULL || !PyFloat_CheckExact(value)) {
        *ok = 0;
        return -1.0;
    }
    return PyFloat_AS_DOUBLE(value);
}

/* 1 for True, 0 for False, -1 for anything else (unset included) */
static int bool_slot(PyObject *obj, Py_ssize_t off)
{
    PyObject *value = SLOT(obj, off);
    return value == Py_True ? 1 : value == Py_False ? 0 : -1;
}

/* BaseCancelScope.__init__: a scope without arguments (no deadline, no
 * shield) is set up here, anything else by _init_py, which checks them */
static PyObject *scope_init(PyObject *scope, PyObject *args, PyObject *kwargs)
{
    if (run_context == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "_cancel_core: configure() was not called");
        return NULL;
    }
    if (PyTuple_GET_SIZE(args) != 0 || (kwargs != NULL && PyDict_GET_SIZE(kwargs) != 0)) {
        PyObject *call = PyTuple_New(PyTuple_GET_SIZE(args) + 1);
        if (call == NULL)
            return NULL;
        Py_INCREF(scope);
        PyTuple_SET_ITEM(call, 0, scope);
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(args); i++) {
            Py_INCREF(PyTuple_GET_ITEM(args, i));
            PyTuple_SET_ITEM(call, i + 1, PyTuple_GET_ITEM(args, i));
        }
        PyObject *result = PyObject_Call(init_py, call, kwargs);
        Py_DECREF(call);
        return result;
    }
    set_slot(scope, sc_deadline, infinity);
    set_slot(scope, sc_relative_deadline, infinity);
    set_slot(scope, sc_shield, Py_False);
    set_slot(scope, sc_cancel_status, Py_None);
    set_slot(scope, sc_runner, Py_None);
    set_slot(scope, sc_timer_entry, Py_None);
    set_slot(scope, sc_cancel_called, Py_False);
    set_slot(scope, sc_cancel_reason, Py_None);
    set_slot(scope, sc_cancelled_caught, Py_False);
    Py_RETURN_NONE;
}

static PyObject *enter_in_python(PyObject *scope)
{
    return PyObject_CallOneArg(enter_py, scope);
}

static PyObject *scope_enter(PyObject *scope, PyObject *unused)
{
    if (run_context == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "_cancel_core: configure() was not called");
        return NULL;
    }
    if (SLOT(scope, sc_runner) != Py_None)
        return enter_in_python(scope); /* entered before, or unset: Python raises */
    PyObject *task = current_task();
    if (task == NULL)
        return PyErr_Occurred() ? NULL : enter_in_python(scope);
    PyObject *runner = SLOT(task, tk_runner), *parent = SLOT(task, tk_cancel_status);
    int ok = 1;
    double deadline = float_slot(scope, sc_deadline, &ok);
    double relative = float_slot(scope, sc_relative_deadline, &ok);
    int called = bool_slot(scope, sc_cancel_called), shield = bool_slot(scope, sc_shield);
    if (!ok || runner == NULL || parent == NULL || called < 0 || shield < 0 ||
        SLOT(scope, sc_cancel_reason) == NULL || SLOT(scope, sc_timer_entry) == NULL ||
        (parent != Py_None && !Py_IS_TYPE(parent, status_type)) ||
        (relative != Py_HUGE_VAL && deadline != Py_HUGE_VAL)) {
        Py_DECREF(task);
        return enter_in_python(scope);
    }
    /* owned here until done: */
    PyObject *new_deadline = NULL, *status = NULL, *tasks = NULL, *new_siblings = NULL;
    PyObject *result = NULL;
    if (relative != Py_HUGE_VAL || deadline != Py_HUGE_VAL) {
        /* the clock, read once: a deadline reached on entry (a timeout of
         * 0) cancels the scope at once, which Python does */
        PyObject *clock = PyObject_GetAttr(runner, s_clock);
        PyObject *now_obj = clock ? PyObject_CallMethodNoArgs(clock, s_current_time) : NULL;
        Py_XDECREF(clock);
        if (now_obj == NULL)
            goto done;
        double now = PyFloat_AsDouble(now_obj);
        Py_DECREF(now_obj);
        if (now == -1.0 && PyErr_Occurred())
            goto done;
        if (relative != Py_HUGE_VAL)
            deadline = now + relative;
        if (now >= deadline || isnan(deadline)) {
            result = enter_in_python(scope);
            goto done;
        }
        if (relative != Py_HUGE_VAL && (new_deadline = PyFloat_FromDouble(deadline)) == NULL)
            goto done;
    }
    int parent_cancelled = 0;
    if (parent != Py_None) {
        PyObject *siblings = SLOT(parent, cs_children), *parent_tasks = SLOT(parent, cs_tasks);
        PyObject *parent_scope = SLOT(parent, cs_scope);
        parent_cancelled = bool_slot(parent, cs_cancelled);
        if (siblings == NULL || (siblings != Py_None && !PySet_CheckExact(siblings)) ||
            parent_tasks == NULL || !PySet_CheckExact(parent_tasks) || parent_cancelled < 0 ||
            (parent_cancelled && !shield && SLOT(scope, sc_cancel_reason) == Py_None &&
             (parent_scope == NULL || !PyObject_TypeCheck(parent_scope, scope_type) ||
              SLOT(parent_scope, sc_cancel_reason) == NULL))) {
            result = enter_in_python(scope);
            goto done;
        }
    }

    /* nothing fails past here but allocation; the new node is made first */
    status = status_type->tp_new(status_type, empty_tuple, NULL);
    tasks = status ? PySet_New(NULL) : NULL;
    if (tasks == NULL || PySet_Add(tasks, task) < 0)
        goto done;
    if (parent != Py_None && SLOT(parent, cs_children) == Py_None) {
        if ((new_siblings = PySet_New(NULL)) == NULL || PySet_Add(new_siblings, status) < 0)
            goto done;
    } else if (parent != Py_None && PySet_Add(SLOT(parent, cs_children), status) < 0) {
        goto done;
    }

    set_slot(scope, sc_runner, runner);
    if (new_deadline != NULL) {
        set_slot(scope, sc_deadline, new_deadline);
        set_slot(scope, sc_relative_deadline, infinity);
    }
    set_slot(status, cs_scope, scope);
    set_slot(status, cs_parent, parent);
    set_slot(status, cs_children, Py_None);
    set_slot(status, cs_tasks, tasks);
    set_slot(status, cs_abandoned, Py_False);
    int cancelled = called;
    if (parent != Py_None) {
        if (new_siblings != NULL)
            set_slot(parent, cs_children, new_siblings);
        if (PySet_Discard(SLOT(parent, cs_tasks), task) < 0)
            goto done;
        if (parent_cancelled && !shield) {
            cancelled = 1;
            if (SLOT(scope, sc_cancel_reason) == Py_None)
                set_slot(scope, sc_cancel_reason,
                         SLOT(SLOT(parent, cs_scope), sc_cancel_reason));
        }
    }
    set_slot(status, cs_cancelled, cancelled ? Py_True : Py_False);
    set_slot(task, tk_cancel_status, status);
    set_slot(scope, sc_cancel_status, status);
    if (deadline != Py_HUGE_VAL && !called) {
        /* self._timer_entry = runner.timers.add(self._deadline, self._expire) */
        PyObject *timers = PyObject_GetAttr(runner, s_timers);
        PyObject *expire = timers ? PyObject_GetAttr(scope, s_expire) : NULL;
        PyObject *entry = expire ? PyObject_CallMethodObjArgs(timers, s_add,
                                                              SLOT(scope, sc_deadline),
                                                              expire, NULL)
                                 : NULL;
        Py_XDECREF(expire);
        Py_XDECREF(timers);
        if (entry == NULL)
            goto done;
        set_slot(scope, sc_timer_entry, entry);
        Py_DECREF(entry);
    }
    Py_INCREF(scope);
    result = scope;
done:
    Py_XDECREF(new_siblings);
    Py_XDECREF(tasks);
    Py_XDECREF(status);
    Py_XDECREF(new_deadline);
    Py_DECREF(task);
    return result;
}

/* len(status._tasks) == 1 and not status._children, for plain values:
 * 1 yes, 0 no (or unusual: Python decides) */
static int sole_leaf(PyObject *status)
{
    PyObject *tasks = SLOT(status, cs_tasks), *children = SLOT(status, cs_children);
    if (tasks == NULL || !PySet_CheckExact(tasks) || PySet_GET_SIZE(tasks) != 1)
        return 0;
    return children == Py_None || (children != NULL && PySet_CheckExact(children) &&
                                   PySet_GET_SIZE(children) == 0);
}

static PyObject *exit_in_python(PyObject *scope, PyObject *const *args)
{
    PyObject *call[4] = {scope, args[0], args[1], args[2]};
    return PyObject_Vectorcall(exit_py, call, 4, NULL);
}

static PyObject *scope_exit(PyObject *scope, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError, "__exit__ expected 3 arguments, got %zd", nargs);
        return NULL;
    }
    if (run_context == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "_cancel_core: configure() was not called");
        return NULL;
    }
    PyObject *status = SLOT(scope, sc_cancel_status);
    if (args[1] != Py_None || status == NULL || !Py_IS_TYPE(status, status_type))
        return exit_in_python(scope, args);
    PyObject *task = current_task();
    if (task == NULL)
        return PyErr_Occurred() ? NULL : exit_in_python(scope, args);
    PyObject *parent = SLOT(status, cs_parent), *entry = SLOT(scope, sc_timer_entry);
    if (SLOT(task, tk_cancel_status) != status || !sole_leaf(status) || parent == NULL ||
        entry == NULL || (parent != Py_None && !Py_IS_TYPE(parent, status_type)) ||
        (parent != Py_None &&
         (SLOT(parent, cs_tasks) == NULL || !PySet_CheckExact(SLOT(parent, cs_tasks)) ||
          SLOT(parent, cs_children) == NULL ||
          (SLOT(parent, cs_children) != Py_None && !PySet_CheckExact(SLOT(parent, cs_children)))))) {
        Py_DECREF(task);
        return exit_in_python(scope, args);
    }
    /* the node leaves the tree; the task moves back to the enclosing node */
    Py_INCREF(status);
    Py_INCREF(parent);
    if (PySet_Clear(SLOT(status, cs_tasks)) < 0)
        goto fail;
    set_slot(task, tk_cancel_status, parent);
    if (parent != Py_None) {
        if (PySet_Add(SLOT(parent, cs_tasks), task) < 0)
            goto fail;
        PyObject *siblings = SLOT(parent, cs_children);
        if (siblings != Py_None && PySet_Discard(siblings, status) < 0)
            goto fail;
        set_slot(status, cs_parent, Py_None);
    }
    set_slot(scope, sc_cancel_status, Py_None);
    entry = SLOT(scope, sc_timer_entry);
    if (entry != Py_None) {
        /* self._runner.timers.cancel(entry) */
        Py_INCREF(entry);
        set_slot(scope, sc_timer_entry, Py_None);
        PyObject *runner = SLOT(scope, sc_runner);
        PyObject *timers = runner ? PyObject_GetAttr(runner, s_timers) : NULL;
        PyObject *done = timers ? PyObject_CallMethodOneArg(timers, s_cancel, entry) : NULL;
        if (runner == NULL && !PyErr_Occurred())
            PyErr_SetString(PyExc_AttributeError, "_runner");
        Py_XDECREF(timers);
        Py_DECREF(entry);
        if (done == NULL)
            goto fail;
        Py_DECREF(done);
    }
    Py_DECREF(parent);
    Py_DECREF(status);
    Py_DECREF(task);
    Py_RETURN_FALSE;
fail:
    Py_DECREF(parent);
    Py_DECREF(status);
    Py_DECREF(task);
    return NULL;
}

static PyMethodDef scope_methods[] = {
    {"__init__", (PyCFunction)(void (*)(void))scope_init, METH_VARARGS | METH_KEYWORDS,
     "Sets the scope up (see BaseCancelScope._init_py)."},
    {"__enter__", (PyCFunction)scope_enter, METH_NOARGS,
     "Enters the scope (not a checkpoint); see BaseCancelScope._enter_py."},
    {"__exit__", (PyCFunction)(void (*)(void))scope_exit, METH_FASTCALL,
     "Exits the scope (not a checkpoint); see BaseCancelScope._exit_py."},
    {NULL, NULL, 0, NULL},
};

static PyObject *methods(PyObject *module, PyObject *unused)
{
    if (scope_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "methods: configure() was not called");
        return NULL;
    }
    PyObject *init = PyDescr_NewMethod(scope_type, &scope_methods[0]);
    PyObject *enter = init ? PyDescr_NewMethod(scope_type, &scope_methods[1]) : NULL;
    PyObject *exit = enter ? PyDescr_NewMethod(scope_type, &scope_methods[2]) : NULL;
    if (exit == NULL) {
        Py_XDECREF(enter);
        Py_XDECREF(init);
        return NULL;
    }
    return Py_BuildValue("(NNN)", init, enter, exit);
}

static PyMethodDef module_methods[] = {
    {"configure", configure, METH_VARARGS,
     "configure(run_context, Task, CancelStatus, BaseCancelScope, init_py, enter_py, exit_py)"},
    {"methods", methods, METH_NOARGS,
     "methods() -> (__init__, __enter__, __exit__): method descriptors of BaseCancelScope"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "lowio._core._cancel_core",
    "A cancel scope's common entry and exit, in C (see the file's header).", -1,
    module_methods,
};

PyMODINIT_FUNC PyInit__cancel_core(void)
{
    return PyModule_Create(&module_def);
}
