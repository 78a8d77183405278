using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Kimad.Transport;

/// <summary>Self-signed server certificates for TLS, and pinning on the client side.</summary>
public static class Certificates
{
    /// <summary>Creates a self-signed certificate for <paramref name="hosts"/> (DNS names or IP addresses); writes the PFX
    /// (with private key) and a .cer (public part, for the workers to pin).</summary>
    public static X509Certificate2 CreateSelfSigned(IReadOnlyList<string> hosts, string pfxPath, string cerPath, string? password, int days = 365)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={hosts.FirstOrDefault() ?? "kimad"}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        foreach (var h in hosts.DefaultIfEmpty("localhost"))
            if (System.Net.IPAddress.TryParse(h, out var ip)) san.AddIpAddress(ip); else san.AddDnsName(h);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(days));
        // The private key: readable by its owner only (0600 from creation, before a byte is written).
        Toolkit.Reporting.Files.WriteAtomically(pfxPath, t => WritePrivate(t, cert.Export(X509ContentType.Pfx, password)));
        Toolkit.Reporting.Files.WriteAtomically(cerPath, t => File.WriteAllBytes(t, cert.Export(X509ContentType.Cert)));
        return cert;
    }

    static void WritePrivate(string path, byte[] bytes)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using var stream = new FileStream(path, options);
        stream.Write(bytes);
    }

    /// <summary>Loads a PFX with its private key (server side).</summary>
    public static X509Certificate2 LoadPfx(string path, string? password)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"certificate '{path}' not found (create one with 'kimad cert')", path);
        return X509CertificateLoader.LoadPkcs12FromFile(path, password);
    }

    /// <summary>Loads the public certificate a worker pins (.cer/.pem/.pfx).</summary>
    public static X509Certificate2 LoadPublic(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"certificate '{path}' not found", path);
        return path.EndsWith(".pfx", StringComparison.OrdinalIgnoreCase)
            ? X509CertificateLoader.LoadPkcs12FromFile(path, null)
            : X509CertificateLoader.LoadCertificateFromFile(path);
    }
}
