/* lowio/_owned_slots.h: how lowio/_owned_ops.c reaches Python objects --
 * the attributes it reads and writes, by slot offset on objects of exactly
 * the classes bind() was given (as _core/_io_core.c does), else by name;
 * the current task, from this thread's dict of the run context; and
 * gen.throw's rules for what it raises.  Included by _owned_ops.c only.
 * Threads: with the GIL. */
#ifndef LOWIO_OWNED_SLOTS_H
#define LOWIO_OWNED_SLOTS_H

#include <Python.h>
#include <structmember.h>

#include <string.h>

/* The attributes the operations use.  Each is read through the slot's
 * offset when the object is of exactly the class bind() gave for it (its
 * member descriptor's offset, as _core/_io_core.c does), else with
 * PyObject_GetAttr: a generic attribute access costs some 150
 * instructions, a quarter of what the generators spent on bytecode. */
typedef struct {
    const char *role; /* which class: bind(role, cls) */
    const char *text;
    PyObject *name; /* interned */
    PyTypeObject *type;
    unsigned int version; /* type's tp_version_tag when bound */
    Py_ssize_t off;
} Attr;

/* whether obj.<a> is still the slot bind() found: obj is of exactly that
 * class, which was not modified since (a test may swap a slot for a
 * property: CPython then gives the class a new version tag) */
#define DIRECT(obj, a)                                                                 \
    ((a)->type != NULL && Py_IS_TYPE(obj, (a)->type) &&                                 \
     (a)->type->tp_version_tag == (a)->version)

enum {
    A_CANCEL_STATUS, A_KI_PENDING, A_CANCEL_POINTS, A_RUNNER,       /* Task */
    A_EFFECTIVELY_CANCELLED,                                        /* CancelStatus */
    A_DRAINED, A_READ_READY, A_READ_UNSURE, A_READ_TASK, A_ABORT_READ, A_FD, /* FdState */
    A_WRITE_TASK, A_WRITE_READY, A_ABORT_WRITE,
    A_STATE, A_RECV, A_SEND, A_DRAIN, /* the owner (lowio's SocketType) */
    A_COUNT
};

static Attr attrs[A_COUNT] = {
    {"task", "_cancel_status"}, {"task", "_ki_pending"}, {"task", "_cancel_points"},
    {"task", "_runner"}, {"cancel_status", "effectively_cancelled"},
    {"fd_state", "drained"}, {"fd_state", "read_ready"}, {"fd_state", "read_unsure"},
    {"fd_state", "read_task"}, {"fd_state", "abort_read"}, {"fd_state", "fd"},
    {"fd_state", "write_task"},
    {"fd_state", "write_ready"}, {"fd_state", "abort_write"}, {"socket", "_state"},
    {"socket", "_recv"}, {"socket", "_send"}, {"socket", "_drain"},
};
#define SLOT(obj, off) (*(PyObject **)((char *)(obj) + (off)))

/* obj.<attr>: a new reference, or NULL with the error set */
static PyObject *get(PyObject *obj, int which)
{
    Attr *a = &attrs[which];
    if (DIRECT(obj, a)) {
        PyObject *value = SLOT(obj, a->off);
        if (value != NULL) {
            Py_INCREF(value);
            return value;
        }
    }
    return PyObject_GetAttr(obj, a->name);
}

/* obj.<attr> = value; the old value is released after the store */
static int set_attr(PyObject *obj, int which, PyObject *value)
{
    Attr *a = &attrs[which];
    if (DIRECT(obj, a)) {
        PyObject *old = SLOT(obj, a->off);
        Py_INCREF(value);
        SLOT(obj, a->off) = value;
        Py_XDECREF(old);
        return 0;
    }
    return PyObject_SetAttr(obj, a->name, value);
}

/* bool(obj.<attr>): 1, 0, or -1 with the error set */
static int truth(PyObject *obj, int which)
{
    Attr *a = &attrs[which];
    if (DIRECT(obj, a)) {
        PyObject *value = SLOT(obj, a->off);
        if (value == Py_True)
            return 1;
        if (value == Py_False || value == Py_None)
            return 0;
    }
    PyObject *value = get(obj, which);
    if (value == NULL)
        return -1;
    int r = PyObject_IsTrue(value);
    Py_DECREF(value);
    return r;
}

static PyObject *bind(PyObject *module, PyObject *args)
{
    const char *role;
    PyObject *cls;
    if (!PyArg_ParseTuple(args, "sO!:bind", &role, &PyType_Type, &cls))
        return NULL;
    PyTypeObject *type = (PyTypeObject *)cls;
    int found = 0;
    for (int i = 0; i < A_COUNT; i++) {
        Attr *a = &attrs[i];
        if (strcmp(a->role, role) != 0)
            continue;
        found = 1;
        PyObject *descr = PyDict_GetItemWithError(type->tp_dict, a->name); /* borrowed */
        if (descr == NULL && PyErr_Occurred())
            return NULL;
        if (descr == NULL || !Py_IS_TYPE(descr, &PyMemberDescr_Type)) {
            PyErr_Format(PyExc_TypeError, "%s.%s is not a __slots__ attribute", type->tp_name,
                         a->text);
            return NULL;
        }
        PyMemberDef *member = ((PyMemberDescrObject *)descr)->d_member;
        if (member->type != T_OBJECT_EX || (member->flags & READONLY)) {
            PyErr_Format(PyExc_TypeError, "%s.%s is not a writable object slot", type->tp_name,
                         a->text);
            return NULL;
        }
        a->off = member->offset;
    }
    if (!found) {
        PyErr_Format(PyExc_ValueError, "bind: no attributes for the role %R", PyTuple_GET_ITEM(args, 0));
        return NULL;
    }
    /* a class attribute lookup gives the class a version tag */
    PyObject *probe = PyObject_GetAttrString(cls, "__slots__");
    if (probe == NULL)
        return NULL;
    Py_DECREF(probe);
    if (type->tp_version_tag == 0)
        Py_RETURN_NONE; /* CPython ran out of tags: plain attribute access */
    for (int i = 0; i < A_COUNT; i++)
        if (strcmp(attrs[i].role, role) == 0) {
            Py_INCREF(type);
            Py_XSETREF(attrs[i].type, type);
            attrs[i].version = type->tp_version_tag;
        }
    Py_RETURN_NONE;
}

/* GLOBAL_RUN_CONTEXT.task (a threading.local: a generic lookup costs some
 * 250 instructions).  The run loop stores the task in this thread's dict
 * of the local; that dict is found once per thread and cached with the
 * thread's state dict, both held (so neither address can come back for
 * another thread while cached).  A new reference, or NULL with the error
 * set. */
static PyObject *cached_tdict, *cached_ldict;

static PyObject *current_task(PyObject *run_context, PyObject *s_task)
{
    PyObject *tdict = PyThreadState_GetDict(); /* borrowed; NULL: none */
    if (tdict != NULL && tdict != cached_tdict) {
        PyObject *ldict = PyObject_GetAttrString(run_context, "__dict__");
        if (ldict == NULL)
            return NULL;
        if (!PyDict_CheckExact(ldict)) {
            Py_DECREF(ldict);
            return PyObject_GetAttr(run_context, s_task);
        }
        Py_INCREF(tdict);
        Py_XSETREF(cached_tdict, tdict);
        Py_XSETREF(cached_ldict, ldict);
    }
    if (tdict != NULL) {
        PyObject *task = PyDict_GetItemWithError(cached_ldict, s_task); /* borrowed */
        if (task != NULL) {
            Py_INCREF(task);
            return task;
        }
        if (PyErr_Occurred())
            return NULL;
    }
    return PyObject_GetAttr(run_context, s_task); /* not set here: the class default */
}

static void forget_cached_context(void)
{
    Py_CLEAR(cached_tdict);
    Py_CLEAR(cached_ldict);
}

/* raises what gen.throw(*args) raises in a generator that does not catch
 * it: type, value, traceback as gen.throw accepts them */
static PyObject *raise_thrown(PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *typ = args[0];
    PyObject *val = nargs > 1 ? args[1] : Py_None, *tb = nargs > 2 ? args[2] : Py_None;
    if (PyExceptionInstance_Check(typ)) {
        if (val != Py_None) {
            PyErr_SetString(PyExc_TypeError, "instance exception may not have a separate value");
            return NULL;
        }
        if (tb != Py_None && PyException_SetTraceback(typ, tb) < 0)
            return NULL;
        PyErr_SetObject((PyObject *)Py_TYPE(typ), typ);
        return NULL;
    }
    if (PyExceptionClass_Check(typ)) {
        PyErr_SetObject(typ, val == Py_None ? NULL : val);
        return NULL;
    }
    PyErr_Format(PyExc_TypeError,
                 "exceptions must be classes or instances deriving from BaseException, not %s",
                 Py_TYPE(typ)->tp_name);
    return NULL;
}


#endif /* LOWIO_OWNED_SLOTS_H */
