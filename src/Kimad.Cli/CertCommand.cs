using System.CommandLine;

namespace Kimad.Cli;

/// <summary><c>kimad cert</c>: a self-signed TLS certificate for the server and its public part for the workers.</summary>
internal static class CertCommand
{
    public static Command Create()
    {
        var pfx = new Option<string>("--pfx") { Description = "Output PFX with the private key (for 'kimad server --cert').", DefaultValueFactory = _ => "kimad-server.pfx" };
        var cer = new Option<string>("--cer") { Description = "Output public certificate (for 'kimad worker --server-cert').", DefaultValueFactory = _ => "kimad-server.cer" };
        var hosts = new Option<string[]>("--host") { Description = "DNS names or IP addresses the server is reached by (repeatable).", DefaultValueFactory = _ => ["localhost", "127.0.0.1"], AllowMultipleArgumentsPerToken = true };
        var password = new Option<string?>("--password") { Description = "PFX password (default none; also $KIMAD_CERT_PASSWORD). The PFX is written readable by its owner only (0600)." };
        var command = new Command("cert", "Create a self-signed server certificate (ECDSA P-256) for TLS.") { pfx, cer, hosts, password };
        command.SetAction(parse =>
        {
            using var cert = Kimad.Transport.Certificates.CreateSelfSigned(parse.GetValue(hosts)!, parse.GetValue(pfx)!, parse.GetValue(cer)!, parse.GetValue(password) ?? Environment.GetEnvironmentVariable("KIMAD_CERT_PASSWORD"));
            Console.WriteLine($"wrote {parse.GetValue(pfx)} and {parse.GetValue(cer)} (thumbprint {cert.Thumbprint}, valid until {cert.NotAfter:yyyy-MM-dd})");
            return 0;
        });
        return command;
    }
}
