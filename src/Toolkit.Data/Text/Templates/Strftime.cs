using System.Globalization;
using System.Text;

namespace Toolkit.Data.Text.Templates;

/// <summary>C/Python <c>strftime</c> for a naive local time (what <c>datetime.now().strftime(fmt)</c> prints), C locale.</summary>
internal static class Strftime
{
    static readonly string[] Days = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

    static readonly string[] Months = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

    public static string Format(DateTime time, string format)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < format.Length; i++)
        {
            char c = format[i];
            if (c != '%' || i + 1 >= format.Length)
            {
                sb.Append(c);
                continue;
            }
            char d = format[++i];
            bool noPad = false;
            if (d == '-' && i + 1 < format.Length)
            {
                noPad = true;
                d = format[++i];
            }
            string Num(int value, int width) => noPad ? value.ToString(CultureInfo.InvariantCulture) : value.ToString(new string('0', width), CultureInfo.InvariantCulture);
            int hour12 = time.Hour % 12 == 0 ? 12 : time.Hour % 12;
            switch (d)
            {
                case 'Y': sb.Append(time.Year.ToString(CultureInfo.InvariantCulture)); break;
                case 'y': sb.Append(Num(time.Year % 100, 2)); break;
                case 'm': sb.Append(Num(time.Month, 2)); break;
                case 'd': sb.Append(Num(time.Day, 2)); break;
                case 'e': sb.Append(time.Day.ToString(CultureInfo.InvariantCulture).PadLeft(2)); break;
                case 'H': sb.Append(Num(time.Hour, 2)); break;
                case 'I': sb.Append(Num(hour12, 2)); break;
                case 'M': sb.Append(Num(time.Minute, 2)); break;
                case 'S': sb.Append(Num(time.Second, 2)); break;
                case 'f': sb.Append((time.Ticks % TimeSpan.TicksPerSecond / 10).ToString("000000", CultureInfo.InvariantCulture)); break;
                case 'j': sb.Append(Num(time.DayOfYear, 3)); break;
                case 'p': sb.Append(time.Hour < 12 ? "AM" : "PM"); break;
                case 'A': sb.Append(Days[(int)time.DayOfWeek]); break;
                case 'a': sb.Append(Days[(int)time.DayOfWeek][..3]); break;
                case 'B': sb.Append(Months[time.Month - 1]); break;
                case 'b' or 'h': sb.Append(Months[time.Month - 1][..3]); break;
                case 'w': sb.Append((int)time.DayOfWeek); break;
                case 'u': sb.Append(time.DayOfWeek == DayOfWeek.Sunday ? 7 : (int)time.DayOfWeek); break;
                case 'D': sb.Append(Format(time, "%m/%d/%y")); break;
                case 'F': sb.Append(Format(time, "%Y-%m-%d")); break;
                case 'T': sb.Append(Format(time, "%H:%M:%S")); break;
                case 'R': sb.Append(Format(time, "%H:%M")); break;
                case 'c': sb.Append(Format(time, "%a %b %e %H:%M:%S %Y")); break;
                case 'x': sb.Append(Format(time, "%m/%d/%y")); break;
                case 'X': sb.Append(Format(time, "%H:%M:%S")); break;
                case 'Z' or 'z': break;
                case '%': sb.Append('%'); break;
                default: sb.Append('%').Append(noPad ? "-" : "").Append(d); break;
            }
        }
        return sb.ToString();
    }
}
