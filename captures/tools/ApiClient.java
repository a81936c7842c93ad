// Java's java.net.http.HttpClient posting one OpenAI-style chat completion, for lantern's
// captures. Usage: java -Djdk.internal.httpclient.disableHostnameVerification=true ApiClient.java URL
// (a trust-all SSLContext: the test server's certificate is self-signed).
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;

public class ApiClient {
    public static void main(String[] args) throws Exception {
        TrustManager[] trustAll = { new X509TrustManager() {
            public void checkClientTrusted(X509Certificate[] chain, String authType) {}
            public void checkServerTrusted(X509Certificate[] chain, String authType) {}
            public X509Certificate[] getAcceptedIssuers() { return new X509Certificate[0]; }
        } };
        SSLContext tls = SSLContext.getInstance("TLS");
        tls.init(null, trustAll, null);
        HttpClient client = HttpClient.newBuilder().sslContext(tls).build();
        String body = "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"Say hello in French.\"}]}";
        HttpRequest request = HttpRequest.newBuilder(URI.create(args[0]))
            .header("Content-Type", "application/json")
            .header("Authorization", "Bearer sk-test-not-a-real-key")
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build();
        HttpResponse<String> response = client.send(request, HttpResponse.BodyHandlers.ofString());
        System.out.println("java " + response.statusCode());
    }
}
