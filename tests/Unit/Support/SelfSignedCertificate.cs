using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Gopherpack.Tests.Support;

/// <summary>A self-signed localhost certificate written as PEM files, as an operator would give the manifest.</summary>
public sealed class SelfSignedCertificate
{
    public string CertificatePath { get; }
    public string KeyPath { get; }
    public X509Certificate2 Certificate { get; }

    public SelfSignedCertificate(TempDir dir)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("localhost");
        san.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        Certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        CertificatePath = dir.File("cert.pem", Certificate.ExportCertificatePem());
        KeyPath = dir.File("key.pem", key.ExportPkcs8PrivateKeyPem());
    }

    /// <summary>Accepts exactly this certificate, nothing else.</summary>
    public bool Validate(X509Certificate? presented) => presented is not null && presented.GetCertHashString() == Certificate.GetCertHashString();
}
