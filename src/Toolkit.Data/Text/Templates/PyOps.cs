using System.Numerics;

namespace Toolkit.Data.Text.Templates;

/// <summary>
/// Python semantics of the template's operators and builtins over template values: truth, equality, ordering,
/// arithmetic, membership, <c>len</c>, iteration, and the sandbox's attribute and item lookup.
/// </summary>
internal static class PyOps
{
    static TemplateException TypeError(string message) => new(message) { Kind = "TypeError" };

    /// <summary>Python's <c>type(value).__name__</c>.</summary>
    public static string TypeName(object? value) => value switch
    {
        null => "NoneType",
        bool => "bool",
        long or BigInteger => "int",
        double => "float",
        string => "str",
        List<object?> => "list",
        PyTuple => "tuple",
        PyDict => "dict",
        DictView view => view.TypeName,
        PyIterator iterator => iterator.TypeName,
        PyRange => "range",
        Undefined => "Undefined",
        TemplateNamespace => "Namespace",
        Macro => "Macro",
        BuiltinFunction => "function",
        BoundMethod => "builtin_function_or_method",
        LoopContext => "LoopContext",
        _ => value.GetType().Name,
    };

    /// <summary>jinja2's <c>object_type_repr</c>, used in undefined messages.</summary>
    public static string ObjectTypeRepr(object? value) => value switch
    {
        null => "None",
        TemplateNamespace => "jinja2.utils.Namespace object",
        LoopContext => "jinja2.runtime.LoopContext object",
        Macro => "jinja2.runtime.Macro object",
        Undefined => "jinja2.runtime.Undefined object",
        _ => TypeName(value) + " object",
    };

    public static object Normalize(BigInteger value) =>
        value >= long.MinValue && value <= long.MaxValue ? (object)(long)value : value;

    public static bool IsInt(object? v) => v is long or BigInteger or bool;

    public static bool IsNumber(object? v) => v is long or BigInteger or bool or double;

    public static BigInteger ToBig(object? v) => v switch
    {
        long l => l,
        BigInteger b => b,
        bool b => b ? 1 : 0,
        _ => throw new InvalidOperationException(),
    };

    public static double ToDouble(object? v) => v switch
    {
        double d => d,
        long l => l,
        BigInteger b => (double)b,
        bool b => b ? 1 : 0,
        _ => throw new InvalidOperationException(),
    };

    /// <summary>Python truth value; undefined is false, iterators are true.</summary>
    public static bool Truthy(object? v) => v switch
    {
        null => false,
        Undefined => false,
        bool b => b,
        long l => l != 0,
        BigInteger big => !big.IsZero,
        double d => d != 0,
        string s => s.Length > 0,
        List<object?> list => list.Count > 0,
        PyTuple t => t.Count > 0,
        PyDict d => d.Count > 0,
        DictView view => view.Items.Count > 0,
        PyRange range => range.Count > 0,
        _ => true,
    };

    /// <summary>Python <c>==</c> (undefined equals only undefined).</summary>
    public static bool Equal(object? a, object? b)
    {
        if (ReferenceEquals(a, b))
            return true;
        if (a is null || b is null)
            return a is null && b is null;
        if (a is Undefined || b is Undefined)
            return a is Undefined && b is Undefined;
        if (IsNumber(a) && IsNumber(b))
        {
            if (a is double || b is double)
            {
                double x = ToDouble(a), y = ToDouble(b);
                if (a is double && b is double)
                    return x == y;
                // int vs float: exact comparison
                var (f, i) = a is double ? (x, b) : (y, a);
                return double.IsFinite(f) && Math.Floor(f) == f && new BigInteger(f) == ToBig(i);
            }
            return ToBig(a) == ToBig(b);
        }
        switch (a)
        {
            case string s:
                return b is string t && string.Equals(s, t, StringComparison.Ordinal);
            case List<object?> x when b is List<object?> y:
                return SequenceEqual(x, y);
            case PyTuple x when b is PyTuple y:
                return SequenceEqual(x.Items, y.Items);
            case PyDict x when b is PyDict y:
                if (x.Count != y.Count)
                    return false;
                foreach (var (k, v) in x.Entries)
                    if (!y.TryGet(k, out object? other) || !Equal(v, other))
                        return false;
                return true;
            case DictView x when b is DictView y:
                return x.TypeName == y.TypeName && SequenceEqual(x.Items, y.Items);
            case PyRange x when b is PyRange y:
                return x.Count == y.Count && (x.Count == 0 || x.Start == y.Start && (x.Count == 1 || x.Step == y.Step));
        }
        return ReferenceEquals(a, b);
    }

    static bool SequenceEqual(IReadOnlyList<object?> x, IReadOnlyList<object?> y)
    {
        if (x.Count != y.Count)
            return false;
        Renderer.Tick(x.Count);
        for (int i = 0; i < x.Count; i++)
            if (!Equal(x[i], y[i]))
                return false;
        return true;
    }

    /// <summary>Python ordering (<c>&lt;</c>, <c>&gt;</c>, ...): -1, 0 or 1; a TypeError for values Python cannot order.</summary>
    public static int Compare(object? a, object? b, string op)
    {
        if (a is Undefined ua)
            throw ua.Fail();
        if (b is Undefined ub)
            throw ub.Fail();
        if (IsNumber(a) && IsNumber(b))
        {
            if (a is double || b is double)
            {
                double x = ToDouble(a), y = ToDouble(b);
                return x < y ? -1 : x > y ? 1 : 0;
            }
            return ToBig(a).CompareTo(ToBig(b));
        }
        if (a is string s && b is string t)
            return PyString.Compare(s, t);
        IReadOnlyList<object?>? left = a is List<object?> la ? la : a is PyTuple ta ? ta.Items : null;
        IReadOnlyList<object?>? right = b is List<object?> lb && a is List<object?> ? lb : b is PyTuple tb && a is PyTuple ? tb.Items : null;
        if (left is not null && right is not null)
        {
            Renderer.Tick();
            for (int i = 0; i < Math.Min(left.Count, right.Count); i++)
                if (!Equal(left[i], right[i]))
                    return Compare(left[i], right[i], op);
            return left.Count.CompareTo(right.Count);
        }
        throw TypeError($"'{op}' not supported between instances of '{TypeName(a)}' and '{TypeName(b)}'");
    }

    static void CheckLength(long length, TemplateLimits limits)
    {
        if (length > limits.MaxOutputLength)
            throw new TemplateException($"value too large: {length} items or characters, more than the limit of {limits.MaxOutputLength}") { Kind = "MemoryError" };
    }

    static object CheckInt(BigInteger value, TemplateLimits limits)
    {
        if (!value.IsZero && BigInteger.Abs(value).GetBitLength() > limits.MaxIntegerBits)
            throw new TemplateException($"integer too large: more than {limits.MaxIntegerBits} bits") { Kind = "OverflowError" };
        return Normalize(value);
    }

    static TemplateException Unsupported(string op, object? a, object? b) =>
        TypeError($"unsupported operand type(s) for {op}: '{TypeName(a)}' and '{TypeName(b)}'");

    public static object? Add(object? a, object? b, TemplateLimits limits)
    {
        FailIfUndefined(a, b);
        if (IsNumber(a) && IsNumber(b))
            return a is double || b is double ? ToDouble(a) + ToDouble(b) : CheckInt(ToBig(a) + ToBig(b), limits);
        switch (a)
        {
            case string s:
                if (b is not string t)
                    throw TypeError($"can only concatenate str (not \"{TypeName(b)}\") to str");
                CheckLength((long)s.Length + t.Length, limits);
                return s + t;
            case List<object?> x:
                if (b is not List<object?> y)
                    throw TypeError($"can only concatenate list (not \"{TypeName(b)}\") to list");
                CheckLength((long)x.Count + y.Count, limits);
                return new List<object?>(x.Concat(y));
            case PyTuple tx:
                if (b is not PyTuple ty)
                    throw TypeError($"can only concatenate tuple (not \"{TypeName(b)}\") to tuple");
                CheckLength((long)tx.Count + ty.Count, limits);
                return new PyTuple([.. tx.Items, .. ty.Items]);
        }
        throw Unsupported("+", a, b);
    }

    public static object? Subtract(object? a, object? b, TemplateLimits limits)
    {
        FailIfUndefined(a, b);
        if (IsNumber(a) && IsNumber(b))
            return a is double || b is double ? ToDouble(a) - ToDouble(b) : CheckInt(ToBig(a) - ToBig(b), limits);
        throw Unsupported("-", a, b);
    }

    public static object? Multiply(object? a, object? b, TemplateLimits limits)
    {
        FailIfUndefined(a, b);
        if (IsNumber(a) && IsNumber(b))
            return a is double || b is double ? ToDouble(a) * ToDouble(b) : CheckInt(ToBig(a) * ToBig(b), limits);
        if (IsInt(a) && b is string or List<object?> or PyTuple)
            (a, b) = (b, a);
        if (a is string or List<object?> or PyTuple)
        {
            if (!IsInt(b))
                throw TypeError($"can't multiply sequence by non-int of type '{TypeName(b)}'");
            BigInteger times = BigInteger.Max(ToBig(b), 0);
            long unit = a is string s0 ? s0.Length : a is List<object?> l0 ? l0.Count : ((PyTuple)a).Count;
            if (unit > 0)
                CheckLength(times > limits.MaxOutputLength ? long.MaxValue : (long)times * unit, limits);
            int n = unit == 0 ? 0 : (int)times;
            return a switch
            {
                string s => string.Concat(Enumerable.Repeat(s, n)),
                List<object?> l => Enumerable.Range(0, n).SelectMany(_ => l).ToList(),
                _ => new PyTuple(Enumerable.Range(0, n).SelectMany(_ => ((PyTuple)a).Items).ToList()),
            };
        }
        throw Unsupported("*", a, b);
    }

    public static object? Divide(object? a, object? b)
    {
        FailIfUndefined(a, b);
        if (!IsNumber(a) || !IsNumber(b))
            throw Unsupported("/", a, b);
        double y = ToDouble(b);
        if (y == 0)
            throw new TemplateException(a is double || b is double ? "float division by zero" : "division by zero") { Kind = "ZeroDivisionError" };
        if (a is double || b is double)
            return ToDouble(a) / y;
        return (double)ToBig(a) / (double)ToBig(b);
    }

    public static object? FloorDivide(object? a, object? b, TemplateLimits limits)
    {
        FailIfUndefined(a, b);
        if (!IsNumber(a) || !IsNumber(b))
            throw Unsupported("//", a, b);
        if (a is double || b is double)
        {
            double y = ToDouble(b);
            if (y == 0)
                throw new TemplateException("float floor division by zero") { Kind = "ZeroDivisionError" };
            return Math.Floor(ToDouble(a) / y);
        }
        BigInteger d = ToBig(b);
        if (d.IsZero)
            throw new TemplateException("integer division or modulo by zero") { Kind = "ZeroDivisionError" };
        BigInteger q = BigInteger.DivRem(ToBig(a), d, out BigInteger r);
        if (!r.IsZero && (r.Sign < 0) != (d.Sign < 0))
            q -= 1;
        return CheckInt(q, limits);
    }

    public static object? Modulo(object? a, object? b, TemplateLimits limits)
    {
        FailIfUndefined(a, b);
        if (a is string format)
            return PrintfFormat.Format(format, b);
        if (!IsNumber(a) || !IsNumber(b))
            throw Unsupported("%", a, b);
        if (a is double || b is double)
        {
            double x = ToDouble(a), y = ToDouble(b);
            if (y == 0)
                throw new TemplateException("float modulo by zero") { Kind = "ZeroDivisionError" };
            double m = x % y;
            if (m != 0 && (m < 0) != (y < 0))
                m += y;
            return m;
        }
        BigInteger d = ToBig(b);
        if (d.IsZero)
            throw new TemplateException("integer modulo by zero") { Kind = "ZeroDivisionError" };
        BigInteger rem = BigInteger.Remainder(ToBig(a), d);
        if (!rem.IsZero && (rem.Sign < 0) != (d.Sign < 0))
            rem += d;
        return CheckInt(rem, limits);
    }

    public static object? Power(object? a, object? b, TemplateLimits limits)
    {
        FailIfUndefined(a, b);
        if (!IsNumber(a) || !IsNumber(b))
            throw Unsupported("** or pow()", a, b);
        if (a is double || b is double || ToBig(b).Sign < 0)
            return Math.Pow(ToDouble(a), ToDouble(b));
        return IntegerPower(a, b, limits);
    }

    static object IntegerPower(object? a, object? b, TemplateLimits limits)
    {
        BigInteger x = ToBig(a), y = ToBig(b);
        long bits = (long)Math.Ceiling(BigInteger.Abs(x).IsZero ? 0 : (double)BigInteger.Abs(x).GetBitLength() * (double)y);
        if (BigInteger.Abs(x) > 1 && (y > limits.MaxIntegerBits || bits > limits.MaxIntegerBits))
            throw new TemplateException($"integer too large: more than {limits.MaxIntegerBits} bits") { Kind = "OverflowError" };
        return CheckInt(BigInteger.Pow(x, (int)BigInteger.Min(y, int.MaxValue)), limits);
    }

    public static object? Negate(object? a, TemplateLimits limits)
    {
        if (a is Undefined u)
            throw u.Fail();
        return a switch
        {
            double d => -d,
            long or BigInteger or bool => CheckInt(-ToBig(a), limits),
            _ => throw TypeError($"bad operand type for unary -: '{TypeName(a)}'"),
        };
    }

    public static object? Plus(object? a)
    {
        if (a is Undefined u)
            throw u.Fail();
        return a switch
        {
            double or long or BigInteger => a,
            bool b => b ? 1L : 0L,
            _ => throw TypeError($"bad operand type for unary +: '{TypeName(a)}'"),
        };
    }

    static void FailIfUndefined(object? a, object? b)
    {
        if (a is Undefined ua)
            throw ua.Fail();
        if (b is Undefined ub)
            throw ub.Fail();
    }

    /// <summary>Python <c>item in container</c>.</summary>
    public static bool Contains(object? container, object? item)
    {
        switch (container)
        {
            case string s:
                if (item is not string sub)
                    throw TypeError($"'in <string>' requires string as left operand, not {TypeName(item)}");
                return s.Contains(sub, StringComparison.Ordinal);
            case List<object?> list:
                return list.Any(x => Equal(x, item));
            case PyTuple tuple:
                return tuple.Items.Any(x => Equal(x, item));
            case PyDict dict:
                if (!PyDict.IsHashable(item) && item is not Undefined)
                    throw TypeError($"unhashable type: '{TypeName(item)}'");
                return dict.ContainsKey(item);
            case DictView view:
                return view.Items.Any(x => Equal(x, item));
            case PyRange range:
                return range.Items().Any(x => Equal(x, item));
            case PyIterator iterator:
                return iterator.Take().Any(x => Equal(x, item));
            case Undefined:
                return false;
        }
        throw TypeError($"argument of type '{TypeName(container)}' is not iterable");
    }

    /// <summary>Python <c>len(value)</c>; undefined has length 0.</summary>
    public static int Length(object? value) => value switch
    {
        string s => PyString.Length(s),
        List<object?> list => list.Count,
        PyTuple t => t.Count,
        PyDict d => d.Count,
        DictView v => v.Items.Count,
        PyRange r => r.Count,
        Undefined => 0,
        _ => throw TypeError($"object of type '{TypeName(value)}' has no len()"),
    };

    /// <summary>Python <c>iter(value)</c>, materialised: strings give code points, dicts their keys, undefined nothing.</summary>
    public static IReadOnlyList<object?> Iterate(object? value)
    {
        switch (value)
        {
            case List<object?> list:
                return list;
            case PyTuple t:
                return t.Items;
            case string s:
                Renderer.Tick(s.Length);
                var chars = new List<object?>(s.Length);
                foreach (var rune in s.EnumerateRunes())
                    chars.Add(rune.ToString());
                return chars;
            case PyDict d:
                return d.Keys.ToList();
            case DictView v:
                return v.Items;
            case PyRange r:
                return r.Items();
            case PyIterator it:
                return it.Take();
            case Undefined:
                return [];
        }
        throw TypeError($"'{TypeName(value)}' object is not iterable");
    }

    /// <summary>Python's <c>slice.indices(length)</c>: clamped start, stop and the step.</summary>
    public static (long Start, long Stop, long Step) SliceBounds(int length, object? start, object? stop, object? step)
    {
        long st = step is null ? 1 : ToIndex(step);
        if (st == 0)
            throw new TemplateException("slice step cannot be zero") { Kind = "ValueError" };
        long lower = st > 0 ? 0 : -1, upper = st > 0 ? length : length - 1;
        long Resolve(object? v, long fallback)
        {
            if (v is null)
                return fallback;
            long i = ToIndex(v);
            if (i < 0)
            {
                i += length;
                if (i < lower)
                    i = lower;
            }
            else if (i > upper)
                i = upper;
            return i;
        }
        return (Resolve(start, st > 0 ? lower : upper), Resolve(stop, st > 0 ? upper : lower), st);
    }

    /// <summary>Resolves a Python slice against a sequence of <paramref name="length"/> items.</summary>
    public static IEnumerable<int> SliceIndices(int length, object? start, object? stop, object? step)
    {
        var (begin, end, st) = SliceBounds(length, start, stop, step);
        if (st > 0)
            for (long i = begin; i < end; i += st)
                yield return (int)i;
        else
            for (long i = begin; i > end; i += st)
                yield return (int)i;
    }

    static long ToIndex(object? v) => v switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        BigInteger big => big > long.MaxValue / 2 ? long.MaxValue / 2 : big < long.MinValue / 2 ? long.MinValue / 2 : (long)big,
        _ => throw TypeError("slice indices must be integers or None or have an __index__ method"),
    };

    /// <summary><c>obj[start:stop:step]</c> for strings, lists and tuples; other values give an undefined.</summary>
    public static object? Slice(object? obj, object? start, object? stop, object? step)
    {
        if (obj is Undefined u)
            throw u.Fail();
        try
        {
            switch (obj)
            {
                case string s:
                    return PyString.Slice(s, SliceIndices(PyString.Length(s), start, stop, step).ToList());
                case List<object?> list:
                    return SliceIndices(list.Count, start, stop, step).Select(i => list[i]).ToList();
                case PyTuple t:
                    return new PyTuple(SliceIndices(t.Count, start, stop, step).Select(i => t[i]).ToList());
                case PyRange r:
                    return r.Slice(start, stop, step);
            }
        }
        catch (TemplateException e) when (e.Kind == "TypeError")
        {
        }
        return Undefined.Missing(obj, "slice");
    }

    /// <summary>The sandbox's <c>getattr(obj, name)</c> (<c>obj.name</c> in a template).</summary>
    public static object? GetAttribute(object? obj, string name)
    {
        if (obj is Undefined u)
            throw u.Fail();
        if (name.StartsWith("__", StringComparison.Ordinal))
            return Undefined.Unsafe(obj, name);
        if (TryGetAttribute(obj, name, out object? value))
            return value;
        if (obj is PyDict dict && dict.TryGet(name, out object? item))
            return item;
        return Undefined.Missing(obj, name);
    }

    /// <summary>Python's <c>getattr</c> without the item fallback (the <c>attr</c> filter).</summary>
    public static object? GetAttributeOnly(object? obj, string name)
    {
        if (obj is Undefined u)
            throw u.Fail();
        if (name.StartsWith("__", StringComparison.Ordinal))
            return Undefined.Unsafe(obj, name);
        return TryGetAttribute(obj, name, out object? value) ? value : Undefined.Missing(obj, name);
    }

    /// <summary>Real attributes (methods, namespace and loop attributes); false when Python would raise AttributeError.</summary>
    static bool TryGetAttribute(object? obj, string name, out object? value)
    {
        value = null;
        switch (obj)
        {
            case string:
                if (!StringMethods.Has(name))
                    return false;
                value = new BoundMethod(obj, name);
                return true;
            case PyDict:
                if (DictMethods.IsUnsafe(name))
                    value = Undefined.Unsafe(obj, name);
                else if (DictMethods.Has(name))
                    value = new BoundMethod(obj, name);
                else
                    return false;
                return true;
            case List<object?> or PyTuple:
                if (obj is List<object?> && ListMethods.IsUnsafe(name))
                    value = Undefined.Unsafe(obj, name);
                else if (ListMethods.Has(name))
                    value = new BoundMethod(obj, name);
                else
                    return false;
                return true;
            case TemplateNamespace ns:
                return ns.Attributes.TryGet(name, out value);
            case long or BigInteger or bool or double:
                value = name switch
                {
                    "real" => obj is double ? obj : Normalize(ToBig(obj)),
                    "imag" => obj is double ? 0.0 : (object)0L,
                    "numerator" when obj is not double => Normalize(ToBig(obj)),
                    "denominator" when obj is not double => 1L,
                    _ => Arguments.Missing,
                };
                if (Arguments.IsMissing(value))
                {
                    value = null;
                    return false;
                }
                return true;
            case LoopContext loop:
                return loop.TryGetAttribute(name, out value);
        }
        return false;
    }

    /// <summary>The sandbox's <c>getitem(obj, key)</c> (<c>obj[key]</c> in a template).</summary>
    public static object? GetItem(object? obj, object? key)
    {
        if (obj is Undefined u)
            throw u.Fail();
        switch (obj)
        {
            case PyDict dict when PyDict.IsHashable(key) && dict.TryGet(key, out object? value):
                return value;
            case List<object?> or PyTuple or string or PyRange when IsInt(key):
                {
                    int length = Length(obj);
                    BigInteger index = ToBig(key);
                    if (index < 0)
                        index += length;
                    if (index >= 0 && index < length)
                    {
                        int i = (int)index;
                        return obj switch
                        {
                            List<object?> list => list[i],
                            PyTuple t => t[i],
                            PyRange r => r[i],
                            _ => PyString.At((string)obj, i),
                        };
                    }
                    break;
                }
            case TemplateNamespace:
                break;
        }
        if (key is string name)
        {
            if (name.StartsWith("__", StringComparison.Ordinal))
                return Undefined.Unsafe(obj, name);
            if (TryGetAttribute(obj, name, out object? attribute))
                return attribute;
        }
        return Undefined.Missing(obj, key);
    }
}
