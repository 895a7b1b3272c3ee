using System.Security.Cryptography.X509Certificates;

namespace Gopherpack.Worker.Tls;

/// <summary>TLS certificates from PEM files, as a manifest's <c>tls:</c> names them.</summary>
public static class PemCertificates
{
    /// <summary>A server certificate with its private key from PEM files (as the manifest's <c>tls:</c> names them).</summary>
    public static X509Certificate2 Load(string certificatePath, string keyPath)
    {
        using var pem = X509Certificate2.CreateFromPemFile(certificatePath, keyPath);
        // Re-imported so the key is usable by SslStream on every platform, not only an ephemeral handle.
        return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), password: null);
    }
}
