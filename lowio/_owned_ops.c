/* lowio._owned_ops: the owned fast path's recv and send on a socket, as
 * awaitables written in C.
 *
 * lowio/_owned_fast_path.py states the contract and holds the reference
 * implementation (recv, send: generator-based coroutines).  An echo round
 * trip runs one send and one recv; as generators each costs a generator
 * object and frame and some 40 bytecodes (about a quarter of the server's
 * instructions per round trip).  recv_op and send_op return an op object
 * that does the usual cases of the same steps with no frame:
 *
 *   send: cancel check, the write, a schedule point (CHECKPOINT), the count;
 *         an error other than EAGAIN raised after the schedule point.
 *   recv (flags 0): cancel check; the drained rule (after a short read on a
 *         socket where it holds, park at once, yielding the entry's
 *         abort_read, and read when woken); else a schedule point, then
 *         the read (the reference's order: its docstring says why); a
 *         short read marks the entry drained (_short_read's case of a
 *         socket whose rule is SOUND; the others call it).
 *   both: on EAGAIN, claim the registration (IOManager.claim) and park.
 *
 * Everything else is handed, at the point where it happens, to Python
 * generators of _owned_fast_path, which the op then drives (it forwards
 * send, throw and close to them):
 *
 *   not in a run, cancelled or Ctrl-C pending, a recv with flags or a size
 *   not exactly an int: the reference recv / send from its start (nothing
 *   done yet);
 *   another task waiting in that direction, or EAGAIN again after a
 *   wake-up: _recv_parked / _send_parked (BusyResourceError, or park and
 *   retry).
 *
 * So the op runs the very steps of the reference, in the same order, with
 * the same objects (the task's slots, the FdState entry, the owner's _recv
 * and _send), and tests drive both (tests/runtime/test_owned_ops.py).
 *
 * An op is awaited once.  It is its own iterator (am_await returns it) and
 * implements am_send, so the awaiting coroutine's SEND calls it directly.
 * Threads: the run's thread only, with the GIL.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

/* what configure() hands over, once at import */
static PyObject *run_context, *checkpoint, *py_recv, *py_send, *recv_parked, *send_parked,
    *short_read, *sound_rule;
#include "_owned_slots.h" /* the attributes, read by slot offset */
#include "_sys/_sockio_api.h" /* SockIO's methods, telling EAGAIN apart */

static const LowioSockIOAPI *sockio_api; /* NULL: the methods are called */

static PyObject *s_task, *s_io, *s_claim;
static PyObject *zero, *one;

enum { START, CHECKPOINTED, FAILED, PARKED, DELEGATED, DONE, PREYIELD };
enum { RECV, SEND };

typedef struct {
    PyObject_HEAD
    int kind;
    int stage;
    PyObject *owner;
    PyObject *arg;   /* recv: bufsize; send: data */
    PyObject *flags;
    PyObject *task;  /* once started */
    PyObject *state; /* recv while parked: the FdState entry */
    PyObject *value; /* CHECKPOINTED: the result; DELEGATED: the generator */
    PyObject *exc_type, *exc_value, *exc_tb; /* FAILED: the exception to raise */
} Op;

static PyTypeObject Op_Type;

/* the generator fn(args) becomes the op's delegate; its first step */
static PySendResult delegate(Op *op, PyObject *fn, PyObject *const *args, size_t nargs,
                             PyObject **result)
{
    PyObject *gen = PyObject_Vectorcall(fn, args, nargs, NULL);
    if (gen == NULL) {
        op->stage = DONE;
        *result = NULL;
        return PYGEN_ERROR;
    }
    Py_XSETREF(op->value, gen);
    op->stage = DELEGATED;
    PySendResult r = PyIter_Send(gen, Py_None, result);
    if (r != PYGEN_NEXT) {
        op->stage = DONE;
        Py_CLEAR(op->value);
    }
    return r;
}

/* a short read of n bytes (0 < n < bufsize) on a socket whose drained rule
 * may hold: _short_read(owner), whose usual case (the rule SOUND, the entry
 * live, nobody waiting, nothing unsure) is done here */
static int after_read(Op *op, PyObject *data)
{
    Py_ssize_t n = PyBytes_CheckExact(data) ? PyBytes_GET_SIZE(data) : PyObject_Length(data);
    if (n < 0)
        return -1;
    Py_ssize_t bufsize = PyLong_AsSsize_t(op->arg);
    if (bufsize == -1 && PyErr_Occurred())
        return -1;
    if (n == 0 || n >= bufsize)
        return 0;
    PyObject *drain = get(op->owner, A_DRAIN);
    if (drain == NULL)
        return -1;
    int rule = PyObject_IsTrue(drain);
    int sound = drain == sound_rule;
    Py_DECREF(drain);
    if (rule <= 0)
        return rule; /* NEVER */
    if (sound) {
        PyObject *state = get(op->owner, A_STATE);
        if (state == NULL)
            return -1;
        PyObject *fd = get(state, A_FD);
        PyObject *waiter = fd == NULL ? NULL : get(state, A_READ_TASK);
        int rc = -1;
        if (waiter != NULL && PyLong_CheckExact(fd)) {
            int unsure = truth(state, A_READ_UNSURE);
            int live = PyLong_AsLong(fd) >= 0;
            if (unsure == 0 && live && waiter == Py_None) {
                /* every edge collected so far announced data this read took */
                rc = set_attr(state, A_READ_READY, Py_False) < 0 ||
                             set_attr(state, A_DRAINED, Py_True) < 0
                         ? -1
                         : 0;
            }
            else
                rc = unsure < 0 ? -1 : 0; /* forgotten, another waiter, or unsure */
        }
        else if (waiter != NULL)
            sound = 0; /* an fd that is not an int: the Python code decides */
        Py_XDECREF(fd);
        Py_XDECREF(waiter);
        Py_DECREF(state);
        if (sound)
            return rc;
    }
    PyObject *r = PyObject_CallOneArg(short_read, op->owner); /* VERIFY first */
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

/* the system call of the op: a new reference, or NULL with the error set,
 * or NULL with no error and *again 1 when it would block.  The owner's
 * _recv / _send is called, unless it is that method of a SockIO: then the
 * method's code runs through _sockio's C interface, which says EAGAIN
 * without raising BlockingIOError (the op would catch it at once). */
static PyObject *call_os(Op *op, int *again)
{
    *again = 0;
    PyObject *fn = get(op->owner, op->kind == RECV ? A_RECV : A_SEND);
    if (fn == NULL)
        return NULL;
    PyObject *args[2] = {op->arg, op->flags};
    PyObject *r;
    const LowioSockIOAPI *api = sockio_api;
    if (api != NULL && PyCFunction_CheckExact(fn) &&
        PyCFunction_GET_SELF(fn) != NULL &&
        Py_TYPE(PyCFunction_GET_SELF(fn)) == api->type &&
        PyCFunction_GET_FUNCTION(fn) == (op->kind == RECV ? api->recv_meth : api->send_meth))
        r = (op->kind == RECV ? api->recv : api->send)(PyCFunction_GET_SELF(fn), args, 2, again);
    else {
        r = PyObject_Vectorcall(fn, args, 2, NULL);
        if (r == NULL && PyErr_ExceptionMatches(PyExc_BlockingIOError)) {
            PyErr_Clear();
            *again = 1;
        }
    }
    Py_DECREF(fn);
    return r;
}

static PySendResult fail(Op *op, PyObject **result)
{
    op->stage = DONE;
    *result = NULL;
    return PYGEN_ERROR;
}

/* the reference implementation from its start: nothing was done yet */
static PySendResult from_start(Op *op, PyObject **result)
{
    PyObject *args[3] = {op->owner, op->arg, op->flags};
    return delegate(op, op->kind == RECV ? py_recv : py_send, args, 3, result);
}

/* the parked generator of the op's kind, from its wait loop's top */
static PySendResult to_parked(Op *op, PyObject *state, PyObject **result)
{
    PyObject *args[5] = {op->owner, op->task, op->arg, op->flags, state};
    if (op->kind == RECV)
        return delegate(op, recv_parked, args, 5, result);
    return delegate(op, send_parked, args, 4, result);
}

/* IOManager.wait_owned_readable / _writable, inlined: parks on the claimed
 * entry state (a new reference, taken over) yielding its abort trap; if
 * another task waits there, the parked generator raises BusyResourceError */
static PySendResult park(Op *op, PyObject *state, PyObject **result)
{
    int recv = op->kind == RECV;
    PyObject *waiter = get(state, recv ? A_READ_TASK : A_WRITE_TASK);
    if (waiter == NULL) {
        Py_DECREF(state);
        return fail(op, result);
    }
    Py_DECREF(waiter);
    if (waiter != Py_None) {
        PySendResult r = to_parked(op, state, result);
        Py_DECREF(state);
        return r;
    }
    PyObject *abort = get(state, recv ? A_ABORT_READ : A_ABORT_WRITE);
    if (abort == NULL || set_attr(state, recv ? A_READ_READY : A_WRITE_READY, Py_False) < 0 ||
        (recv && set_attr(state, A_DRAINED, Py_False) < 0) ||
        set_attr(state, recv ? A_READ_TASK : A_WRITE_TASK, op->task) < 0) {
        Py_XDECREF(abort);
        Py_DECREF(state);
        return fail(op, result);
    }
    Py_XSETREF(op->state, state);
    op->stage = PARKED;
    *result = abort;
    return PYGEN_NEXT;
}

/* IOManager.claim(owner, write) of the task's run: the entry, or NULL */
static PyObject *claim(Op *op)
{
    PyObject *runner = get(op->task, A_RUNNER);
    if (runner == NULL)
        return NULL;
    PyObject *io = PyObject_GetAttr(runner, s_io);
    Py_DECREF(runner);
    if (io == NULL)
        return NULL;
    PyObject *args[3] = {io, op->owner, op->kind == RECV ? Py_False : Py_True};
    PyObject *state = PyObject_VectorcallMethod(s_claim, args, 3, NULL);
    Py_DECREF(io);
    return state;
}

/* a first attempt hit EAGAIN: claim the registration and park on it */
static PySendResult claim_and_park(Op *op, PyObject **result)
{
    PyObject *state = claim(op);
    if (state == NULL)
        return fail(op, result);
    return park(op, state, result);
}

static PySendResult send_step(Op *op, PyObject **result);

static PySendResult start(Op *op, PyObject **result)
{
    /* recv with flags (0 is the small-int singleton), or a size not of
     * exactly int: the reference does it */
    if (op->kind == RECV && (op->flags != zero || !PyLong_CheckExact(op->arg)))
        return from_start(op, result);
    PyObject *task = current_task(run_context, s_task);
    if (task == NULL)
        return fail(op, result);
    if (task == Py_None) {
        Py_DECREF(task);
        return from_start(op, result); /* raises RuntimeError */
    }
    op->task = task;
    PyObject *status = get(task, A_CANCEL_STATUS);
    if (status == NULL)
        return fail(op, result);
    int cancelled = truth(status, A_EFFECTIVELY_CANCELLED);
    Py_DECREF(status);
    if (cancelled < 0)
        return fail(op, result);
    if (!cancelled && (cancelled = truth(task, A_KI_PENDING)) < 0)
        return fail(op, result);
    if (cancelled)
        return from_start(op, result); /* raises Cancelled / KeyboardInterrupt */
    PyObject *points = get(task, A_CANCEL_POINTS);
    if (points == NULL)
        return fail(op, result);
    PyObject *more = PyNumber_Add(points, one);
    Py_DECREF(points);
    if (more == NULL)
        return fail(op, result);
    int rc = set_attr(task, A_CANCEL_POINTS, more);
    Py_DECREF(more);
    if (rc < 0)
        return fail(op, result);

    if (op->kind == RECV) {
        PyObject *state = get(op->owner, A_STATE);
        if (state == NULL)
            return fail(op, result);
        int drained = truth(state, A_DRAINED), wait = 0;
        if (drained > 0) {
            /* (drained is only ever set on the live entry the socket claimed) */
            if (set_attr(state, A_DRAINED, Py_False) < 0)
                drained = -1;
            else {
                int ready = truth(state, A_READ_READY);
                int unsure = ready == 0 ? truth(state, A_READ_UNSURE) : 0;
                int look = ready == 0 && unsure == 0;
                PyObject *waiter = look ? get(state, A_READ_TASK) : NULL;
                if (ready < 0 || unsure < 0 || (look && waiter == NULL))
                    drained = -1;
                else if (waiter == Py_None)
                    wait = 1; /* the buffer is empty and the next data an edge */
                Py_XDECREF(waiter);
            }
        }
        if (drained < 0) {
            Py_DECREF(state);
            return fail(op, result);
        }
        if (wait)
            return park(op, state, result);
        Py_DECREF(state);
        op->stage = PREYIELD;
        Py_INCREF(checkpoint);
        *result = checkpoint;
        return PYGEN_NEXT;
    }
    return send_step(op, result);
}

/* send's system call and what follows it */
static PySendResult send_step(Op *op, PyObject **result)
{
    int again;
    PyObject *value = call_os(op, &again);
    if (value == NULL) {
        if (again)
            return claim_and_park(op, result);
        /* trio's _try_sync: a schedule point, then the error */
        PyErr_Fetch(&op->exc_type, &op->exc_value, &op->exc_tb);
        op->stage = FAILED;
        Py_INCREF(checkpoint);
        *result = checkpoint;
        return PYGEN_NEXT;
    }
    op->value = value;
    op->stage = CHECKPOINTED; /* a schedule point, never a cancel point */
    Py_INCREF(checkpoint);
    *result = checkpoint;
    return PYGEN_NEXT;
}

static PySendResult op_am_send(Op *op, PyObject *arg, PyObject **result)
{
    switch (op->stage) {
    case START:
        return start(op, result);
    case PREYIELD: {
        int again;
        PyObject *value = call_os(op, &again);
        if (value == NULL)
            return again ? claim_and_park(op, result) : fail(op, result);
        op->stage = DONE;
        if (after_read(op, value) < 0) {
            Py_DECREF(value);
            *result = NULL;
            return PYGEN_ERROR;
        }
        *result = value;
        return PYGEN_RETURN;
    }
    case CHECKPOINTED:
        op->stage = DONE;
        *result = op->value; /* the reference passes to the caller */
        op->value = NULL;
        return PYGEN_RETURN;
    case FAILED:
        op->stage = DONE;
        PyErr_Restore(op->exc_type, op->exc_value, op->exc_tb);
        op->exc_type = op->exc_value = op->exc_tb = NULL;
        *result = NULL;
        return PYGEN_ERROR;
    case PARKED: {
        /* woken: the system call again; no schedule point after a park */
        PyObject *state = op->state;
        op->state = NULL;
        int again;
        PyObject *value = call_os(op, &again);
        if (value == NULL) {
            if (!again) {
                Py_DECREF(state);
                return fail(op, result);
            }
            PySendResult r = to_parked(op, state, result);
            Py_DECREF(state);
            return r;
        }
        Py_DECREF(state);
        op->stage = DONE;
        if (op->kind == RECV && after_read(op, value) < 0) {
            Py_DECREF(value);
            *result = NULL;
            return PYGEN_ERROR;
        }
        *result = value;
        return PYGEN_RETURN;
    }
    case DELEGATED: {
        PySendResult r = PyIter_Send(op->value, arg, result);
        if (r != PYGEN_NEXT) {
            op->stage = DONE;
            Py_CLEAR(op->value);
        }
        return r;
    }
    default:
        PyErr_SetString(PyExc_RuntimeError, "cannot reuse already awaited lowio operation");
        *result = NULL;
        return PYGEN_ERROR;
    }
}

/* the reference's generators let an exception thrown in at a yield
 * propagate (no try block around their yields): so does the op */
static void finish(Op *op)
{
    op->stage = DONE;
    Py_CLEAR(op->value);
    Py_CLEAR(op->state);
    Py_CLEAR(op->exc_type);
    Py_CLEAR(op->exc_value);
    Py_CLEAR(op->exc_tb);
}

static PyObject *stop_iteration(PyObject *value)
{
    /* StopIteration(value), as a generator's return sets it */
    PyObject *exc = PyObject_CallOneArg(PyExc_StopIteration, value);
    Py_DECREF(value);
    if (exc != NULL) {
        PyErr_SetObject(PyExc_StopIteration, exc);
        Py_DECREF(exc);
    }
    return NULL;
}

static PyObject *op_iternext(Op *op)
{
    PyObject *result;
    PySendResult r = op_am_send(op, Py_None, &result);
    if (r == PYGEN_NEXT)
        return result;
    if (r == PYGEN_RETURN)
        return stop_iteration(result);
    return NULL;
}

static PyObject *op_send(Op *op, PyObject *arg)
{
    PyObject *result;
    PySendResult r = op_am_send(op, arg, &result);
    if (r == PYGEN_NEXT)
        return result;
    if (r == PYGEN_RETURN)
        return stop_iteration(result);
    return NULL;
}

static PyObject *op_throw(Op *op, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1 || nargs > 3) {
        PyErr_SetString(PyExc_TypeError, "throw() takes 1 to 3 arguments");
        return NULL;
    }
    if (op->stage == DELEGATED) {
        PyObject *throw = PyObject_GetAttrString(op->value, "throw");
        if (throw == NULL) {
            finish(op);
            return NULL;
        }
        PyObject *r = PyObject_Vectorcall(throw, args, (size_t)nargs, NULL);
        Py_DECREF(throw);
        if (r == NULL)
            finish(op);
        return r;
    }
    finish(op);
    return raise_thrown(args, nargs);
}

static PyObject *op_close(Op *op, PyObject *unused)
{
    if (op->stage == DELEGATED) {
        PyObject *gen = op->value;
        Py_INCREF(gen);
        finish(op);
        PyObject *r = PyObject_CallMethod(gen, "close", NULL);
        Py_DECREF(gen);
        return r;
    }
    finish(op);
    Py_RETURN_NONE;
}

static PyObject *op_await(PyObject *op)
{
    Py_INCREF(op);
    return op;
}

static int op_traverse(Op *op, visitproc visit, void *arg)
{
    Py_VISIT(op->owner);
    Py_VISIT(op->arg);
    Py_VISIT(op->flags);
    Py_VISIT(op->task);
    Py_VISIT(op->state);
    Py_VISIT(op->value);
    Py_VISIT(op->exc_type);
    Py_VISIT(op->exc_value);
    Py_VISIT(op->exc_tb);
    return 0;
}

static int op_clear(Op *op)
{
    Py_CLEAR(op->owner);
    Py_CLEAR(op->arg);
    Py_CLEAR(op->flags);
    Py_CLEAR(op->task);
    Py_CLEAR(op->state);
    Py_CLEAR(op->value);
    Py_CLEAR(op->exc_type);
    Py_CLEAR(op->exc_value);
    Py_CLEAR(op->exc_tb);
    return 0;
}

static void op_dealloc(Op *op)
{
    PyObject_GC_UnTrack(op);
    op_clear(op);
    Py_TYPE(op)->tp_free((PyObject *)op);
}

static PyObject *op_repr(Op *op)
{
    return PyUnicode_FromFormat("<lowio %s operation at %p>", op->kind == RECV ? "recv" : "send",
                                op);
}

static PyMethodDef op_methods[] = {
    {"send", (PyCFunction)op_send, METH_O, "send(value): the next step, as a coroutine's."},
    {"throw", (PyCFunction)(void (*)(void))op_throw, METH_FASTCALL,
     "throw(exc): raises exc where the operation is suspended, as a coroutine's."},
    {"close", (PyCFunction)op_close, METH_NOARGS, "close(): as a coroutine's."},
    {NULL, NULL, 0, NULL},
};

static PyAsyncMethods op_async = {
    .am_await = op_await,
    .am_send = (sendfunc)op_am_send,
};

static PyTypeObject Op_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "lowio._owned_ops.Operation",
    .tp_basicsize = sizeof(Op),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "One awaited recv or send of the owned fast path (see the source's header).",
    .tp_dealloc = (destructor)op_dealloc,
    .tp_traverse = (traverseproc)op_traverse,
    .tp_clear = (inquiry)op_clear,
    .tp_as_async = &op_async,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)op_iternext,
    .tp_methods = op_methods,
    .tp_repr = (reprfunc)op_repr,
};

static PyObject *new_op(int kind, PyObject *const *args, Py_ssize_t nargs, const char *name)
{
    if (nargs < 2 || nargs > 3) {
        PyErr_Format(PyExc_TypeError, "%s() takes 2 or 3 positional arguments (%zd given)", name,
                     nargs);
        return NULL;
    }
    if (run_context == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "lowio._owned_ops: configure() was not called");
        return NULL;
    }
    Op *op = PyObject_GC_New(Op, &Op_Type);
    if (op == NULL)
        return NULL;
    op->kind = kind;
    op->stage = START;
    Py_INCREF(args[0]);
    op->owner = args[0];
    Py_INCREF(args[1]);
    op->arg = args[1];
    op->flags = nargs > 2 ? args[2] : zero;
    Py_INCREF(op->flags);
    op->task = op->state = op->value = NULL;
    op->exc_type = op->exc_value = op->exc_tb = NULL;
    PyObject_GC_Track(op);
    return (PyObject *)op;
}

static PyObject *recv_op(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    return new_op(RECV, args, nargs, "recv");
}

static PyObject *send_op(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    return new_op(SEND, args, nargs, "send");
}

static PyObject *configure(PyObject *module, PyObject *args)
{
    PyObject *ctx, *cp, *pr, *ps, *rp, *sp, *sr, *so;
    if (!PyArg_ParseTuple(args, "OOOOOOOO:configure", &ctx, &cp, &pr, &ps, &rp, &sp, &sr, &so))
        return NULL;
    PyObject **slots[] = {&run_context, &checkpoint, &py_recv,   &py_send,
                          &recv_parked, &send_parked, &short_read, &sound_rule};
    PyObject *values[] = {ctx, cp, pr, ps, rp, sp, sr, so};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        Py_INCREF(values[i]);
        Py_XSETREF(*slots[i], values[i]);
    }
    forget_cached_context(); /* current_task()'s cache was for the old context */
    Py_RETURN_NONE;
}

static PyObject *method(PyObject *module, PyObject *fn)
{
    return PyInstanceMethod_New(fn);
}

static PyMethodDef methods[] = {
    {"configure", configure, METH_VARARGS,
     "configure(run_context, CHECKPOINT, recv, send, _recv_parked, _send_parked, _short_read, "
     "SOUND): "
     "what the operations use; once, at import."},
    {"recv_op", (PyCFunction)(void (*)(void))recv_op, METH_FASTCALL,
     "recv_op(owner, bufsize, flags=0): an awaitable doing _owned_fast_path.recv's steps."},
    {"send_op", (PyCFunction)(void (*)(void))send_op, METH_FASTCALL,
     "send_op(owner, data, flags=0): an awaitable doing _owned_fast_path.send's steps."},
    {"bind", bind, METH_VARARGS,
     "bind(role, cls): read the attributes of that role ('task', 'cancel_status', "
     "'fd_state', 'socket') through cls's slots on objects of exactly cls."},
    {"method", method, METH_O,
     "method(fn): fn wrapped to bind as a method (a class attribute that passes self)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "lowio._owned_ops",
    "The owned fast path's socket recv and send as C awaitables (see the source's header).",
    -1, methods,
};

static int intern(PyObject **out, const char *name)
{
    *out = PyUnicode_InternFromString(name);
    return *out == NULL ? -1 : 0;
}

PyMODINIT_FUNC PyInit__owned_ops(void)
{
    if (PyType_Ready(&Op_Type) < 0)
        return NULL;
    if (intern(&s_task, "task") || intern(&s_io, "io") || intern(&s_claim, "claim"))
        return NULL;
    for (int i = 0; i < A_COUNT; i++)
        if (intern(&attrs[i].name, attrs[i].text))
            return NULL;
    /* without _sockio (it failed to import) the methods are called */
    PyObject *sockio = PyImport_ImportModule("lowio._sys._sockio"); /* (the capsule's walk
                                                                      * only imports "lowio") */
    Py_XDECREF(sockio);
    sockio_api = sockio == NULL ? NULL : PyCapsule_Import(LOWIO_SOCKIO_API_NAME, 0);
    if (sockio_api == NULL)
        PyErr_Clear();
    else if (sockio_api->version != LOWIO_SOCKIO_API_VERSION)
        sockio_api = NULL;
    zero = PyLong_FromLong(0);
    one = PyLong_FromLong(1);
    if (zero == NULL || one == NULL)
        return NULL;
    return PyModule_Create(&module_def);
}
