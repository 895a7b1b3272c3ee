using System.Text;
using Gopherpack.Metrics;

namespace Gopherpack.Tests.Observability;

/// <summary>The metrics endpoint's request handling: Accept with q-values, line ends.</summary>
public sealed class MetricsHttpTests
{
    [Theory]
    [InlineData("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1", true)]
    [InlineData("application/openmetrics-text", true)]
    [InlineData("application/openmetrics-text; q=0", false)]
    [InlineData("application/openmetrics-text;q=0.0, text/plain", false)]
    [InlineData("text/plain;q=1, application/openmetrics-text;q=0.5", false)]
    [InlineData("application/openmetrics-text;q=0.9, */*;q=0.1", true)]
    [InlineData("text/plain", false)]
    [InlineData(null, false)]
    public void OpenMetrics_is_chosen_only_when_it_has_the_highest_q_above_0(string? accept, bool expected) =>
        Assert.Equal(expected, PrometheusText.WantsOpenMetrics(accept));

    [Theory]
    [InlineData("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 30)]
    [InlineData("GET /metrics HTTP/1.1\nHost: x\n\n", 29)]
    [InlineData("GET /metrics HTTP/1.1\nHost: x\r\n\r\n", 29)]
    [InlineData("GET /metrics HTTP/1.1\r\nHost: x\r\n", -1)]
    [InlineData("GET /metrics HTTP/1.1\nHost: x\n", -1)]
    public void The_request_head_ends_at_an_empty_line_with_crlf_or_bare_lf(string data, int end) =>
        Assert.Equal(end, MetricsServer.HeadEnd(Encoding.ASCII.GetBytes(data)));
}
