/* lowio/_core/_slots.h: how the run's small C extensions (_io_core.c,
 * _step_core.c, _cancel_core.c) reach the __slots__ of lowio's classes: a
 * slot's offset, read once from its member descriptor, and a store through
 * it.
 * Threads: with the GIL. */
#ifndef LOWIO_CORE_SLOTS_H
#define LOWIO_CORE_SLOTS_H

#include <Python.h>
#include <structmember.h>

#define SLOT(obj, off) (*(PyObject **)((char *)(obj) + (off)))

static int slot_offset(PyTypeObject *type, const char *name, Py_ssize_t *out)
{
    PyObject *descr = PyDict_GetItemString(type->tp_dict, name); /* borrowed */
    if (descr == NULL || !Py_IS_TYPE(descr, &PyMemberDescr_Type)) {
        PyErr_Format(PyExc_TypeError, "%s.%s is not a __slots__ attribute", type->tp_name, name);
        return -1;
    }
    PyMemberDef *member = ((PyMemberDescrObject *)descr)->d_member;
    if (member->type != T_OBJECT_EX || (member->flags & READONLY)) {
        PyErr_Format(PyExc_TypeError, "%s.%s is not a writable object slot", type->tp_name, name);
        return -1;
    }
    *out = member->offset;
    return 0;
}

/* obj.<slot at off> = value (a new reference is taken); the old value is
 * released after, so a finaliser it runs sees the new state */
static inline void set_slot(PyObject *obj, Py_ssize_t off, PyObject *value)
{
    PyObject *old = SLOT(obj, off);
    Py_INCREF(value);
    SLOT(obj, off) = value;
    Py_XDECREF(old);
}

#endif
