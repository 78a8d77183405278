using System.Globalization;
using System.Numerics;

namespace Toolkit.Data.Text.Templates;

/// <summary>Python's <c>round(number, ndigits)</c>: exact decimal rounding of the binary value, half to even.</summary>
internal static class PyNumber
{
    public static object Round(object? value, long ndigits)
    {
        if (value is double d)
            return RoundFloat(d, ndigits);
        BigInteger n = PyOps.ToBig(value);
        if (ndigits >= 0)
            return PyOps.Normalize(n);
        if (ndigits < -4000)
            return 0L;
        BigInteger unit = BigInteger.Pow(10, (int)-ndigits);
        return PyOps.Normalize(RoundHalfEven(n, unit) * unit);
    }

    static BigInteger RoundHalfEven(BigInteger numerator, BigInteger denominator)
    {
        BigInteger q = BigInteger.DivRem(BigInteger.Abs(numerator), denominator, out BigInteger r);
        int c = (r * 2).CompareTo(denominator);
        if (c > 0 || c == 0 && !q.IsEven)
            q += 1;
        return numerator.Sign < 0 ? -q : q;
    }

    static double RoundFloat(double x, long ndigits)
    {
        if (!double.IsFinite(x) || x == 0)
            return x;
        if (ndigits > 330)
            return x;
        if (ndigits < -330)
            return 0.0 * Math.Sign(x);
        long bits = BitConverter.DoubleToInt64Bits(x);
        int exponent = (int)((bits >> 52) & 0x7FF);
        long fraction = bits & 0xFFFFFFFFFFFFFL;
        BigInteger mantissa = exponent == 0 ? fraction : fraction | (1L << 52);
        int e = (exponent == 0 ? 1 : exponent) - 1075;
        if (x < 0)
            mantissa = -mantissa;
        // x = mantissa * 2^e exactly; round x * 10^ndigits to an integer, half to even.
        BigInteger numerator = mantissa, denominator = 1;
        if (e >= 0)
            numerator <<= e;
        else
            denominator <<= -e;
        if (ndigits >= 0)
            numerator *= BigInteger.Pow(10, (int)ndigits);
        else
            denominator *= BigInteger.Pow(10, (int)-ndigits);
        BigInteger rounded = RoundHalfEven(numerator, denominator);
        if (rounded.IsZero)
            return x < 0 ? -0.0 : 0.0;
        string text = rounded.ToString(CultureInfo.InvariantCulture) + "e" + (-ndigits).ToString(CultureInfo.InvariantCulture);
        return double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
    }
}
